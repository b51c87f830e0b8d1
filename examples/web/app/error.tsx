"use client";
// Never a blank screen: anything the page throws ends here, with a way back.
export default function PageError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="narrow">
      <div role="alert" className="banner error">
        <p>Something went wrong: {error.message || "an unexpected error"}.</p>
        <button type="button" onClick={reset}>
          Try again
        </button>
      </div>
    </main>
  );
}
