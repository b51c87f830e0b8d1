import { connection } from "next/server";
import { App } from "@/components/App";

// Read at request time, so one build serves any API address (TASKGRAPH_URL, default :8080).
export default async function Page() {
  await connection();
  const apiUrl = process.env.TASKGRAPH_URL || "http://127.0.0.1:8080";
  return <App apiUrl={apiUrl} />;
}
