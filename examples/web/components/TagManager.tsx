"use client";
// The user's tags: "New tag" (a name, a color or none), and delete.
import { useMutation } from "@apollo/client/react";
import { useState, type FormEvent } from "react";
import { explain } from "@/lib/errors";
import { tagChanged, tagDeleted } from "@/lib/live";
import { CreateTagMutation, DeleteTagMutation } from "@/lib/operations";
import { TagChip, type TagView } from "./TagChip";

export function TagManager({ tags }: { tags: readonly TagView[] }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [useColor, setUseColor] = useState(false);
  const [color, setColor] = useState("#3b82f6");
  const [errors, setErrors] = useState<{ name?: string; color?: string; general?: string }>({});
  const [createTag, creating] = useMutation(CreateTagMutation);
  const [deleteTag] = useMutation(DeleteTagMutation);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    try {
      await createTag({
        variables: { input: { name, color: useColor ? color : null } },
        update: (cache, { data }) => {
          if (data) tagChanged(cache, data.createTag);
        },
      });
      setName("");
      setUseColor(false);
      setOpen(false);
    } catch (err) {
      const x = explain(err);
      setErrors({ name: x.fields.name ?? (x.general === "that name is taken" ? "you have a tag of that name already" : undefined), color: x.fields.color, general: x.general && x.general !== "that name is taken" ? x.general : undefined });
    }
  };

  return (
    <div className="card tags-card">
      <h2>Tags</h2>
      <ul className="taglist" aria-label="Your tags">
        {tags.map((t) => (
          <li key={t.id}>
            <TagChip tag={t} />
            <button
              type="button"
              className="link"
              aria-label={`Delete tag ${t.name}`}
              onClick={() => {
                if (window.confirm(`Delete the tag “${t.name}”? It is removed from its tasks.`)) {
                  deleteTag({ variables: { id: t.id }, update: (cache) => tagDeleted(cache, t.id) }).catch((err: unknown) =>
                    setErrors({ general: `Could not delete ${t.name}: ${explain(err).general ?? "unknown error"}` }),
                  );
                }
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {!open && errors.general && (
        <p role="alert" className="field-error">
          {errors.general}
        </p>
      )}
      {!open && (
        <button type="button" className="secondary" onClick={() => setOpen(true)}>
          New tag
        </button>
      )}
      {open && (
        <form onSubmit={submit} aria-label="New tag">
          <label htmlFor="tag-name">Tag name</label>
          <input id="tag-name" value={name} required onChange={(e) => setName(e.target.value)} aria-invalid={!!errors.name} aria-describedby="tag-name-error" />
          <p id="tag-name-error" className="field-error">
            {errors.name}
          </p>
          <label className="check">
            <input type="checkbox" checked={useColor} onChange={(e) => setUseColor(e.target.checked)} />
            Use a color
          </label>
          {useColor && (
            <>
              <label htmlFor="tag-color">Color</label>
              <input id="tag-color" type="color" value={color} onChange={(e) => setColor(e.target.value)} />
            </>
          )}
          {errors.general && (
            <p role="alert" className="field-error">
              {errors.general}
            </p>
          )}
          <div className="row">
            <button type="submit" disabled={creating.loading}>
              Add tag
            </button>
            <button type="button" className="secondary" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
