// A runnable tour: sign in to Better Auth, then create and list tasks on taskgraph.
//
//   npm run build && BETTER_AUTH_URL=http://127.0.0.1:3000 TASKGRAPH_URL=http://127.0.0.1:8080/graphql \
//     EMAIL=ada@example.com PASSWORD='correct horse battery staple' node dist/example.js
import { betterAuthToken, createCookieFetch, createTaskgraphAuthClient } from "./better-auth.js";
import { createTaskgraphClient } from "./client.js";
import { createTagMutation, createTaskMutation, meQuery, tasksQuery } from "./operations.js";

async function main(): Promise<void> {
  const env = (name: string, fallback?: string): string => {
    const v = process.env[name] ?? fallback;
    if (v === undefined) throw new Error(`${name} is not set`);
    return v;
  };
  const email = env("EMAIL");
  const password = env("PASSWORD");

  // Outside a browser the session cookie must be kept by hand; in a browser drop `fetch`.
  const authClient = createTaskgraphAuthClient({ baseURL: env("BETTER_AUTH_URL"), fetch: createCookieFetch() });
  const signIn = await authClient.signIn.email({ email, password });
  if (signIn.error) {
    const signUp = await authClient.signUp.email({ email, password, name: email.split("@")[0] ?? email });
    if (signUp.error) throw new Error(`sign-up: ${signUp.error.message ?? signUp.error.statusText}`);
  }

  const client = createTaskgraphClient({
    url: env("TASKGRAPH_URL", "http://127.0.0.1:8080/graphql"),
    getToken: betterAuthToken(authClient),
  });

  const me = await client.query(meQuery, {}).toPromise();
  if (me.error) throw me.error;
  console.log(`signed in as ${me.data?.me.email} (uuid ${me.data?.me.uuid})`);

  const tag = await client.mutation(createTagMutation, { input: { name: `tour-${Date.now()}`, color: "#3b82f6" } }).toPromise();
  if (tag.error || !tag.data) throw tag.error ?? new Error("no data");
  const task = await client
    .mutation(createTaskMutation, {
      input: { title: "Try taskgraph", priority: "HIGH", dueAt: "2030-01-01T09:00:00+01:00", tagIds: [tag.data.createTag.id] },
    })
    .toPromise();
  if (task.error || !task.data) throw task.error ?? new Error("no data");
  console.log(`created task ${task.data.createTask.id}, due ${task.data.createTask.dueAt}`);

  const page = await client.query(tasksQuery, { first: 5, orderBy: { field: "DUE_AT", direction: "ASC" } }).toPromise();
  if (page.error || !page.data) throw page.error ?? new Error("no data");
  for (const { node } of page.data.tasks.edges) {
    const tags = node.tags.map((t) => t.name).join(", ");
    console.log(`- ${node.title} [${node.priority ?? "no priority"}] ${node.dueAt ?? "no due date"} ${tags}`);
  }
  const n = page.data.tasks.totalCount;
  console.log(`${n} task${n === 1 ? "" : "s"} in all`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
