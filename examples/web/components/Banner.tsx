import type { ReactNode } from "react";

export function Banner({ kind, children }: { kind: "error" | "info"; children: ReactNode }) {
  return (
    <div role={kind === "error" ? "alert" : "status"} className={`banner ${kind}`}>
      {children}
    </div>
  );
}
