"use client";
import type { Priority } from "@/gql/graphql";
import { TagChip, type TagView } from "./TagChip";

export interface FilterState {
  completed: "all" | "open" | "done";
  priorities: Priority[];
  tagIds: string[];
  search: string;
}

export const PRIORITIES: readonly Priority[] = ["LOW", "MEDIUM", "HIGH", "URGENT"];
const names: Record<Priority, string> = { LOW: "Low", MEDIUM: "Medium", HIGH: "High", URGENT: "Urgent" };

function toggle<T>(list: readonly T[], item: T, on: boolean): T[] {
  return on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item);
}

export function Filters({
  tags,
  value,
  search,
  onSearch,
  onChange,
}: {
  tags: readonly TagView[];
  value: FilterState;
  search: string;
  onSearch: (s: string) => void;
  onChange: (f: FilterState) => void;
}) {
  return (
    <div className="card filters">
      <label htmlFor="search">Search</label>
      <input id="search" type="search" value={search} maxLength={200} onChange={(e) => onSearch(e.target.value)} />

      <label htmlFor="show">Show</label>
      <select id="show" value={value.completed} onChange={(e) => onChange({ ...value, completed: e.target.value as FilterState["completed"] })}>
        <option value="all">All</option>
        <option value="open">Open</option>
        <option value="done">Completed</option>
      </select>

      <fieldset>
        <legend>Filter by priority</legend>
        {PRIORITIES.map((p) => (
          <label key={p} className="check">
            <input type="checkbox" checked={value.priorities.includes(p)} onChange={(e) => onChange({ ...value, priorities: toggle(value.priorities, p, e.target.checked) })} />
            {names[p]}
          </label>
        ))}
      </fieldset>

      <fieldset>
        <legend>Filter by tag</legend>
        {tags.length === 0 && <p className="hint">No tags yet.</p>}
        {tags.map((t) => (
          <label key={t.id} className="check">
            <input type="checkbox" checked={value.tagIds.includes(t.id)} onChange={(e) => onChange({ ...value, tagIds: toggle(value.tagIds, t.id, e.target.checked) })} />
            <TagChip tag={t} />
          </label>
        ))}
      </fieldset>
    </div>
  );
}
