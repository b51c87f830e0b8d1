export interface TagView {
  id: string;
  name: string;
  color: string | null;
}

/** A tag without a color gets a neutral one: the color is optional on the server too. */
export const NEUTRAL = "#9ca3af";

export function TagChip({ tag }: { tag: TagView }) {
  return (
    <span className="tag">
      <span className="dot" aria-hidden="true" style={{ background: tag.color ?? NEUTRAL }} />
      {tag.name}
    </span>
  );
}
