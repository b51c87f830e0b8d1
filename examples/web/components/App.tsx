"use client";
// The app's shell: Better Auth's session decides between the sign-in form and the tasks; the
// Apollo client (and its socket) live exactly as long as the signed-in session.
import { ApolloProvider } from "@apollo/client/react";
import { useEffect, useState } from "react";
import { createApollo, type Links } from "@/lib/apollo";
import { authClient } from "@/lib/auth-client";
import { TokenSource } from "@/lib/token";
import { AuthForm } from "./AuthForm";
import { Banner } from "./Banner";
import { TaskApp } from "./TaskApp";

/** A JWT from Better Auth for the session's cookie, or null when there is no session any more. */
async function fetchToken(): Promise<string | null> {
  const { data, error } = await authClient.token();
  if (error) {
    if (error.status === 401) return null;
    throw new Error(`Better Auth: ${error.message ?? error.statusText}`);
  }
  return data?.token ?? null;
}

/** Closes the socket; a connection that was being refused (4403) rejects dispose with its close
 * event, which is no error of ours at this point. */
async function closeSocket(links: Links): Promise<void> {
  try {
    await links.ws.dispose();
  } catch {
    // the socket is closed either way
  }
}

export function App({ apiUrl }: { apiUrl: string }) {
  const session = authClient.useSession();
  const [signedOut, setSignedOut] = useState(false);
  const userId = session.data?.user.id ?? null;

  if (session.isPending) {
    return (
      <main className="narrow">
        <p aria-busy="true">Loading…</p>
      </main>
    );
  }
  if (!userId) {
    return (
      <main className="narrow">
        <h1>taskgraph</h1>
        {signedOut && <Banner kind="error">Signed out — sign in again.</Banner>}
        {session.error && <Banner kind="error">Cannot reach Better Auth: {session.error.message}</Banner>}
        <AuthForm onSignedIn={() => setSignedOut(false)} />
      </main>
    );
  }
  return (
    <SignedIn
      key={userId}
      apiUrl={apiUrl}
      email={session.data?.user.email ?? ""}
      onSessionLost={async () => {
        setSignedOut(true);
        await session.refetch();
      }}
    />
  );
}

function SignedIn({ apiUrl, email, onSessionLost }: { apiUrl: string; email: string; onSessionLost: () => Promise<void> }) {
  const [unreachable, setUnreachable] = useState(false);
  const [reconnects, setReconnects] = useState(0);
  const [links, setLinks] = useState<Links | null>(null);

  // One client (and socket) per signed-in user, made in an effect so that whatever unmounts the
  // component (signing out, React's strict-mode double mount in development) disposes of it.
  useEffect(() => {
    const tokens = new TokenSource(fetchToken, () => void onSessionLost().catch(() => {}));
    const made = createApollo({
      apiUrl,
      tokens,
      onUnreachable: setUnreachable,
      onReconnected: () => setReconnects((n) => n + 1),
    });
    setLinks(made);
    return () => {
      closeSocket(made);
      made.client.stop();
    };
    // The parent keys this component by user id; onSessionLost is that user's.
  }, [apiUrl]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!links) {
    return (
      <main className="narrow">
        <p aria-busy="true">Loading…</p>
      </main>
    );
  }

  // Signing out closes the socket and forgets everything cached before Better Auth forgets the session.
  const signOut = async () => {
    await closeSocket(links);
    links.client.stop();
    await links.client.clearStore();
    await authClient.signOut();
  };

  return (
    <ApolloProvider client={links.client}>
      {unreachable && (
        <Banner kind="error">
          Cannot reach the API at {apiUrl}. Your changes are kept; retrying when you act again.
        </Banner>
      )}
      <TaskApp email={email} onSignOut={signOut} reconnects={reconnects} />
    </ApolloProvider>
  );
}
