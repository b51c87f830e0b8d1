"use client";
// One form to create and to edit a task: title, description, priority or none, due date and
// time in the browser's time zone, tags. A new task and its tags are one createTask.
import { useMutation } from "@apollo/client/react";
import { useState, type FormEvent } from "react";
import type { Priority, TaskFieldsFragment, UpdateTaskInput } from "@/gql/graphql";
import { explain, type Explained } from "@/lib/errors";
import { taskCreated, taskUpdated } from "@/lib/live";
import { CreateTaskMutation, UpdateTaskMutation } from "@/lib/operations";
import { fromLocalInput, toLocalInput } from "@/lib/time";
import { PRIORITIES } from "./Filters";
import { TagChip, type TagView } from "./TagChip";
import { priorityLabel } from "./TaskApp";

function FieldError({ id, text }: { id: string; text: string | undefined }) {
  return (
    <p id={id} className="field-error" role={text ? "alert" : undefined}>
      {text ?? ""}
    </p>
  );
}

export function TaskForm({ task, tags, onDone }: { task: TaskFieldsFragment | null; tags: readonly TagView[]; onDone: () => void }) {
  const initialDue = toLocalInput(task?.dueAt ?? null);
  const [title, setTitle] = useState(task?.title ?? "");
  const [description, setDescription] = useState(task?.description ?? "");
  const [priority, setPriority] = useState<Priority | "">(task?.priority ?? "");
  const [due, setDue] = useState(initialDue);
  const [tagIds, setTagIds] = useState<string[]>(task?.tags.map((t) => t.id) ?? []);
  const [errors, setErrors] = useState<Explained>({ fields: {}, general: null });
  const [create, creating] = useMutation(CreateTaskMutation);
  const [update, updating] = useMutation(UpdateTaskMutation);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {}, general: null });
    try {
      if (!task) {
        await create({
          variables: {
            input: { title, description: description || null, priority: priority || null, dueAt: fromLocalInput(due), tagIds },
          },
          update: (cache, { data }) => {
            if (data) taskCreated(cache, data.createTask);
          },
        });
      } else {
        const input: UpdateTaskInput = { title, description: description || null, priority: priority || null, tagIds };
        // An untouched due date is not sent: its seconds (if any) stay as they are.
        if (due !== initialDue) input.dueAt = fromLocalInput(due);
        await update({
          variables: { id: task.id, input },
          update: (cache, { data }) => {
            if (data) taskUpdated(cache, data.updateTask);
          },
        });
      }
      onDone();
    } catch (err) {
      setErrors(explain(err));
    }
  };

  const f = errors.fields;
  return (
    <form className="card taskform" onSubmit={submit} aria-label={task ? `Edit ${task.title}` : "New task"} noValidate>
      <label htmlFor="task-title">Title</label>
      <input id="task-title" value={title} onChange={(e) => setTitle(e.target.value)} aria-invalid={!!f.title} aria-describedby="task-title-error" autoFocus />
      <FieldError id="task-title-error" text={f.title} />

      <label htmlFor="task-description">Description</label>
      <textarea id="task-description" value={description} rows={3} onChange={(e) => setDescription(e.target.value)} aria-invalid={!!f.description} aria-describedby="task-description-error" />
      <FieldError id="task-description-error" text={f.description} />

      <div className="row">
        <div>
          <label htmlFor="task-priority">Priority</label>
          <select id="task-priority" value={priority} onChange={(e) => setPriority(e.target.value as Priority | "")}>
            <option value="">None</option>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {priorityLabel[p]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="task-due">Due</label>
          <input id="task-due" type="datetime-local" value={due} onChange={(e) => setDue(e.target.value)} aria-invalid={!!f.dueAt} aria-describedby="task-due-error" />
          <FieldError id="task-due-error" text={f.dueAt} />
        </div>
      </div>

      <fieldset>
        <legend>Tags</legend>
        {tags.length === 0 && <p className="hint">No tags yet: add some with “New tag”.</p>}
        {tags.map((t) => (
          <label key={t.id} className="check">
            <input
              type="checkbox"
              checked={tagIds.includes(t.id)}
              onChange={(e) => setTagIds((ids) => (e.target.checked ? [...ids.filter((x) => x !== t.id), t.id] : ids.filter((x) => x !== t.id)))}
            />
            <TagChip tag={t} />
          </label>
        ))}
        <FieldError id="task-tags-error" text={f.tagIds} />
      </fieldset>

      {errors.general && (
        <p role="alert" className="field-error">
          Could not save: {errors.general}
        </p>
      )}
      <div className="row">
        <button type="submit" disabled={creating.loading || updating.loading}>
          Save
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
