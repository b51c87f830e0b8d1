// Every operation the example (and the e2e suite) sends. `npm run codegen` turns each graphql(`...`)
// call into a TypedDocumentNode, so results and variables are checked against schema.graphqls.
//
// `satisfies DocumentNode`: a document edited without re-running codegen no longer matches its
// generated overload and comes back as `unknown`, so `tsc --noEmit` fails right here, even for a
// document no code reads yet. (codegen itself refuses a field the schema does not have.)
import type { DocumentNode } from "graphql";
import { graphql } from "./gql/index.js";

// The fields of a task and of a tag the operations below ask for, written once.
export const taskFields = graphql(`
  fragment TaskFields on Task {
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
`) satisfies DocumentNode;

export const tagFields = graphql(`
  fragment TagFields on Tag {
    id
    name
    color
    createdAt
  }
`) satisfies DocumentNode;

export const meQuery = graphql(`
  query Me {
    me {
      id
      uuid
      email
      name
    }
  }
`) satisfies DocumentNode;

export const tagsQuery = graphql(`
  query Tags {
    tags {
      ...TagFields
    }
  }
`) satisfies DocumentNode;

export const tagQuery = graphql(`
  query Tag($id: ID!) {
    tag(id: $id) {
      ...TagFields
    }
  }
`) satisfies DocumentNode;

export const taskQuery = graphql(`
  query Task($id: ID!) {
    task(id: $id) {
      ...TaskFields
    }
  }
`) satisfies DocumentNode;

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
`) satisfies DocumentNode;

export const createTagMutation = graphql(`
  mutation CreateTag($input: CreateTagInput!) {
    createTag(input: $input) {
      ...TagFields
    }
  }
`) satisfies DocumentNode;

export const updateTagMutation = graphql(`
  mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {
    updateTag(id: $id, input: $input) {
      id
      name
      color
    }
  }
`) satisfies DocumentNode;

export const deleteTagMutation = graphql(`
  mutation DeleteTag($id: ID!) {
    deleteTag(id: $id)
  }
`) satisfies DocumentNode;

export const createTaskMutation = graphql(`
  mutation CreateTask($input: CreateTaskInput!) {
    createTask(input: $input) {
      ...TaskFields
    }
  }
`) satisfies DocumentNode;

export const updateTaskMutation = graphql(`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) {
      ...TaskFields
    }
  }
`) satisfies DocumentNode;

export const deleteTaskMutation = graphql(`
  mutation DeleteTask($id: ID!) {
    deleteTask(id: $id)
  }
`) satisfies DocumentNode;

// Live updates (over the socket: createSubscriptionClient). A task event carries the task as
// committed (null for DELETED); a deleted tag is also an UPDATED event of each task it was on.
// $after: the cursor of the last event received, to resume after a reconnect (resumeSubscription).
export const taskEventsSubscription = graphql(`
  subscription TaskEvents($after: String) {
    taskEvents(after: $after) {
      kind
      id
      at
      cursor
      task {
        ...TaskFields
      }
    }
  }
`) satisfies DocumentNode;

export const tagEventsSubscription = graphql(`
  subscription TagEvents($after: String) {
    tagEvents(after: $after) {
      kind
      id
      at
      cursor
      tag {
        ...TagFields
      }
    }
  }
`) satisfies DocumentNode;
