"use client";
// Email and password, Better Auth's own client: "Sign in" or "Sign up" (which also needs a name).
import { useState, type FormEvent } from "react";
import { authClient } from "@/lib/auth-client";

export function AuthForm({ onSignedIn }: { onSignedIn: () => void }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter;
    const signUp = submitter instanceof HTMLButtonElement && submitter.value === "sign-up";
    setBusy(true);
    setError(null);
    try {
      const result = signUp
        ? await authClient.signUp.email({ email, password, name: name.trim() || email })
        : await authClient.signIn.email({ email, password });
      if (result.error) {
        setError(result.error.message ?? result.error.statusText ?? "could not sign in");
        return;
      }
      onSignedIn();
    } catch (err) {
      setError(`Cannot reach the server: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="card auth" aria-label="Sign in or sign up">
      <label htmlFor="auth-name">Name</label>
      <input id="auth-name" name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="only to sign up" />
      <label htmlFor="auth-email">Email</label>
      <input id="auth-email" name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <label htmlFor="auth-password">Password</label>
      <input
        id="auth-password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        minLength={8}
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      {error && (
        <p role="alert" className="field-error">
          {error}
        </p>
      )}
      <div className="row">
        <button type="submit" value="sign-in" disabled={busy}>
          Sign in
        </button>
        <button type="submit" value="sign-up" disabled={busy} className="secondary">
          Sign up
        </button>
      </div>
    </form>
  );
}
