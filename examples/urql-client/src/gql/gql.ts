/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    completed\n    completedAt\n    priority\n    dueAt\n    createdAt\n    updatedAt\n    tags {\n      id\n      name\n      color\n    }\n  }\n": typeof types.TaskFieldsFragmentDoc,
    "\n  fragment TagFields on Tag {\n    id\n    name\n    color\n    createdAt\n  }\n": typeof types.TagFieldsFragmentDoc,
    "\n  query Me {\n    me {\n      id\n      uuid\n      email\n      name\n    }\n  }\n": typeof types.MeDocument,
    "\n  query Tags {\n    tags {\n      ...TagFields\n    }\n  }\n": typeof types.TagsDocument,
    "\n  query Tag($id: ID!) {\n    tag(id: $id) {\n      ...TagFields\n    }\n  }\n": typeof types.TagDocument,
    "\n  query Task($id: ID!) {\n    task(id: $id) {\n      ...TaskFields\n    }\n  }\n": typeof types.TaskDocument,
    "\n  query Tasks(\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n    $filter: TaskFilter\n    $orderBy: TaskOrder\n  ) {\n    tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        cursor\n        node {\n          id\n          title\n          completed\n          priority\n          dueAt\n          tags {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n": typeof types.TasksDocument,
    "\n  mutation CreateTag($input: CreateTagInput!) {\n    createTag(input: $input) {\n      ...TagFields\n    }\n  }\n": typeof types.CreateTagDocument,
    "\n  mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {\n    updateTag(id: $id, input: $input) {\n      id\n      name\n      color\n    }\n  }\n": typeof types.UpdateTagDocument,
    "\n  mutation DeleteTag($id: ID!) {\n    deleteTag(id: $id)\n  }\n": typeof types.DeleteTagDocument,
    "\n  mutation CreateTask($input: CreateTaskInput!) {\n    createTask(input: $input) {\n      ...TaskFields\n    }\n  }\n": typeof types.CreateTaskDocument,
    "\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) {\n      ...TaskFields\n    }\n  }\n": typeof types.UpdateTaskDocument,
    "\n  mutation DeleteTask($id: ID!) {\n    deleteTask(id: $id)\n  }\n": typeof types.DeleteTaskDocument,
    "\n  subscription TaskEvents($after: String) {\n    taskEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      task {\n        ...TaskFields\n      }\n    }\n  }\n": typeof types.TaskEventsDocument,
    "\n  subscription TagEvents($after: String) {\n    tagEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      tag {\n        ...TagFields\n      }\n    }\n  }\n": typeof types.TagEventsDocument,
};
const documents: Documents = {
    "\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    completed\n    completedAt\n    priority\n    dueAt\n    createdAt\n    updatedAt\n    tags {\n      id\n      name\n      color\n    }\n  }\n": types.TaskFieldsFragmentDoc,
    "\n  fragment TagFields on Tag {\n    id\n    name\n    color\n    createdAt\n  }\n": types.TagFieldsFragmentDoc,
    "\n  query Me {\n    me {\n      id\n      uuid\n      email\n      name\n    }\n  }\n": types.MeDocument,
    "\n  query Tags {\n    tags {\n      ...TagFields\n    }\n  }\n": types.TagsDocument,
    "\n  query Tag($id: ID!) {\n    tag(id: $id) {\n      ...TagFields\n    }\n  }\n": types.TagDocument,
    "\n  query Task($id: ID!) {\n    task(id: $id) {\n      ...TaskFields\n    }\n  }\n": types.TaskDocument,
    "\n  query Tasks(\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n    $filter: TaskFilter\n    $orderBy: TaskOrder\n  ) {\n    tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        cursor\n        node {\n          id\n          title\n          completed\n          priority\n          dueAt\n          tags {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n": types.TasksDocument,
    "\n  mutation CreateTag($input: CreateTagInput!) {\n    createTag(input: $input) {\n      ...TagFields\n    }\n  }\n": types.CreateTagDocument,
    "\n  mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {\n    updateTag(id: $id, input: $input) {\n      id\n      name\n      color\n    }\n  }\n": types.UpdateTagDocument,
    "\n  mutation DeleteTag($id: ID!) {\n    deleteTag(id: $id)\n  }\n": types.DeleteTagDocument,
    "\n  mutation CreateTask($input: CreateTaskInput!) {\n    createTask(input: $input) {\n      ...TaskFields\n    }\n  }\n": types.CreateTaskDocument,
    "\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) {\n      ...TaskFields\n    }\n  }\n": types.UpdateTaskDocument,
    "\n  mutation DeleteTask($id: ID!) {\n    deleteTask(id: $id)\n  }\n": types.DeleteTaskDocument,
    "\n  subscription TaskEvents($after: String) {\n    taskEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      task {\n        ...TaskFields\n      }\n    }\n  }\n": types.TaskEventsDocument,
    "\n  subscription TagEvents($after: String) {\n    tagEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      tag {\n        ...TagFields\n      }\n    }\n  }\n": types.TagEventsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    completed\n    completedAt\n    priority\n    dueAt\n    createdAt\n    updatedAt\n    tags {\n      id\n      name\n      color\n    }\n  }\n"): (typeof documents)["\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    completed\n    completedAt\n    priority\n    dueAt\n    createdAt\n    updatedAt\n    tags {\n      id\n      name\n      color\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TagFields on Tag {\n    id\n    name\n    color\n    createdAt\n  }\n"): (typeof documents)["\n  fragment TagFields on Tag {\n    id\n    name\n    color\n    createdAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    me {\n      id\n      uuid\n      email\n      name\n    }\n  }\n"): (typeof documents)["\n  query Me {\n    me {\n      id\n      uuid\n      email\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Tags {\n    tags {\n      ...TagFields\n    }\n  }\n"): (typeof documents)["\n  query Tags {\n    tags {\n      ...TagFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Tag($id: ID!) {\n    tag(id: $id) {\n      ...TagFields\n    }\n  }\n"): (typeof documents)["\n  query Tag($id: ID!) {\n    tag(id: $id) {\n      ...TagFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Task($id: ID!) {\n    task(id: $id) {\n      ...TaskFields\n    }\n  }\n"): (typeof documents)["\n  query Task($id: ID!) {\n    task(id: $id) {\n      ...TaskFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Tasks(\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n    $filter: TaskFilter\n    $orderBy: TaskOrder\n  ) {\n    tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        cursor\n        node {\n          id\n          title\n          completed\n          priority\n          dueAt\n          tags {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Tasks(\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n    $filter: TaskFilter\n    $orderBy: TaskOrder\n  ) {\n    tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n      edges {\n        cursor\n        node {\n          id\n          title\n          completed\n          priority\n          dueAt\n          tags {\n            id\n            name\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTag($input: CreateTagInput!) {\n    createTag(input: $input) {\n      ...TagFields\n    }\n  }\n"): (typeof documents)["\n  mutation CreateTag($input: CreateTagInput!) {\n    createTag(input: $input) {\n      ...TagFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {\n    updateTag(id: $id, input: $input) {\n      id\n      name\n      color\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {\n    updateTag(id: $id, input: $input) {\n      id\n      name\n      color\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteTag($id: ID!) {\n    deleteTag(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteTag($id: ID!) {\n    deleteTag(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTask($input: CreateTaskInput!) {\n    createTask(input: $input) {\n      ...TaskFields\n    }\n  }\n"): (typeof documents)["\n  mutation CreateTask($input: CreateTaskInput!) {\n    createTask(input: $input) {\n      ...TaskFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) {\n      ...TaskFields\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) {\n      ...TaskFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteTask($id: ID!) {\n    deleteTask(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteTask($id: ID!) {\n    deleteTask(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TaskEvents($after: String) {\n    taskEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      task {\n        ...TaskFields\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription TaskEvents($after: String) {\n    taskEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      task {\n        ...TaskFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TagEvents($after: String) {\n    tagEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      tag {\n        ...TagFields\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription TagEvents($after: String) {\n    tagEvents(after: $after) {\n      kind\n      id\n      at\n      cursor\n      tag {\n        ...TagFields\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;