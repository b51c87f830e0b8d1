// Every operation the app sends, typed by GraphQL Code Generator (npm run codegen → gql/).
import { graphql } from "@/gql";

export const TaskFields = graphql(`
  fragment TaskFields on Task {
    id
    title
    description
    completed
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
`);

export const TasksQuery = graphql(`
  query Tasks($first: Int!, $after: String, $filter: TaskFilter) {
    tasks(first: $first, after: $after, filter: $filter, orderBy: { field: CREATED_AT, direction: DESC }) {
      totalCount
      edges {
        cursor
        node {
          ...TaskFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const MeAndTagsQuery = graphql(`
  query MeAndTags {
    me {
      id
      email
      name
    }
    tags {
      id
      name
      color
    }
  }
`);

export const CreateTaskMutation = graphql(`
  mutation CreateTask($input: CreateTaskInput!) {
    createTask(input: $input) {
      ...TaskFields
    }
  }
`);

export const UpdateTaskMutation = graphql(`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) {
      ...TaskFields
    }
  }
`);

export const DeleteTaskMutation = graphql(`
  mutation DeleteTask($id: ID!) {
    deleteTask(id: $id)
  }
`);

export const CreateTagMutation = graphql(`
  mutation CreateTag($input: CreateTagInput!) {
    createTag(input: $input) {
      id
      name
      color
    }
  }
`);

export const DeleteTagMutation = graphql(`
  mutation DeleteTag($id: ID!) {
    deleteTag(id: $id)
  }
`);

export const TaskEventsSubscription = graphql(`
  subscription TaskEvents {
    taskEvents {
      kind
      id
      at
      task {
        ...TaskFields
      }
    }
  }
`);

export const TagEventsSubscription = graphql(`
  subscription TagEvents {
    tagEvents {
      kind
      id
      at
      tag {
        id
        name
        color
      }
    }
  }
`);

export const TagFragment = graphql(`
  fragment TagFields on Tag {
    id
    name
    color
  }
`);
