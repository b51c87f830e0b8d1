// Every operation the example (and the e2e suite) sends. `npm run codegen` turns each graphql(`...`)
// call into a TypedDocumentNode, so results and variables are checked against schema.graphqls.
import { graphql } from "./gql/index.js";

export const meQuery = graphql(`
  query Me {
    me {
      id
      uuid
      email
      name
    }
  }
`);

export const tagsQuery = graphql(`
  query Tags {
    tags {
      id
      name
      color
      createdAt
    }
  }
`);

export const tagQuery = graphql(`
  query Tag($id: ID!) {
    tag(id: $id) {
      id
      name
      color
      createdAt
    }
  }
`);

export const taskQuery = graphql(`
  query Task($id: ID!) {
    task(id: $id) {
      id
      title
      description
      completed
      completedAt
      priority
      dueAt
      createdAt
      updatedAt
      tags {
        id
        name
        color
      }
    }
  }
`);

export const tasksQuery = graphql(`
  query Tasks(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $filter: TaskFilter
    $orderBy: TaskOrder
  ) {
    tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        cursor
        node {
          id
          title
          completed
          priority
          dueAt
          tags {
            id
            name
          }
        }
      }
    }
  }
`);

export const createTagMutation = graphql(`
  mutation CreateTag($input: CreateTagInput!) {
    createTag(input: $input) {
      id
      name
      color
      createdAt
    }
  }
`);

export const updateTagMutation = graphql(`
  mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {
    updateTag(id: $id, input: $input) {
      id
      name
      color
    }
  }
`);

export const deleteTagMutation = graphql(`
  mutation DeleteTag($id: ID!) {
    deleteTag(id: $id)
  }
`);

export const createTaskMutation = graphql(`
  mutation CreateTask($input: CreateTaskInput!) {
    createTask(input: $input) {
      id
      title
      description
      completed
      completedAt
      priority
      dueAt
      createdAt
      updatedAt
      tags {
        id
        name
        color
      }
    }
  }
`);

export const updateTaskMutation = graphql(`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) {
      id
      title
      description
      completed
      completedAt
      priority
      dueAt
      updatedAt
      tags {
        id
        name
      }
    }
  }
`);

export const deleteTaskMutation = graphql(`
  mutation DeleteTask($id: ID!) {
    deleteTask(id: $id)
  }
`);
