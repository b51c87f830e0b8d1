"use client";
import { useMutation } from "@apollo/client/react";
import { useState } from "react";
import type { TaskFieldsFragment } from "@/gql/graphql";
import { explain } from "@/lib/errors";
import { taskDeleted, taskUpdated } from "@/lib/live";
import { DeleteTaskMutation, UpdateTaskMutation } from "@/lib/operations";
import { formatDue } from "@/lib/time";
import { TagChip } from "./TagChip";
import { priorityLabel } from "./TaskApp";

export function TaskItem({ task, onEdit }: { task: TaskFieldsFragment; onEdit: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [update] = useMutation(UpdateTaskMutation);
  const [remove, removing] = useMutation(DeleteTaskMutation);

  // The accessible name starts with the title; the rest says what a sighted person sees.
  const parts = [task.title];
  if (task.priority) parts.push(`${priorityLabel[task.priority]} priority`);
  if (task.dueAt) parts.push(`due ${formatDue(task.dueAt)}`);
  if (task.completed) parts.push("completed");

  return (
    <li aria-label={parts.join(", ")} className={task.completed ? "done" : undefined}>
      <input
        type="checkbox"
        aria-label={`Completed: ${task.title}`}
        checked={task.completed}
        onChange={(e) => {
          setError(null);
          update({
            variables: { id: task.id, input: { completed: e.target.checked } },
            update: (cache, { data }) => {
              if (data) taskUpdated(cache, data.updateTask);
            },
          }).catch((err: unknown) => setError(explain(err).general));
        }}
      />
      <div className="body">
        <span className="title">{task.title}</span>
        {task.description && <span className="desc">{task.description}</span>}
        <span className="meta">
          {task.priority && <span className={`prio prio-${task.priority.toLowerCase()}`}>{priorityLabel[task.priority]}</span>}
          {task.dueAt && <time dateTime={task.dueAt}>Due {formatDue(task.dueAt)}</time>}
          {task.tags.map((t) => (
            <TagChip key={t.id} tag={t} />
          ))}
        </span>
        {error && (
          <span role="alert" className="field-error">
            {error}
          </span>
        )}
      </div>
      <button type="button" className="secondary" onClick={onEdit}>
        Edit
      </button>
      <button
        type="button"
        className="danger"
        disabled={removing.loading}
        onClick={() => {
          if (!window.confirm(`Delete “${task.title}”?`)) return;
          remove({ variables: { id: task.id }, update: (cache) => taskDeleted(cache, task.id) }).catch((err: unknown) => setError(explain(err).general));
        }}
      >
        Delete
      </button>
    </li>
  );
}
