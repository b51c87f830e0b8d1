package graph

import (
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph/model"
)

var priorityNames = map[db.Priority]model.Priority{
	db.PriorityLow: model.PriorityLow, db.PriorityMedium: model.PriorityMedium,
	db.PriorityHigh: model.PriorityHigh, db.PriorityUrgent: model.PriorityUrgent,
}

// taskModel converts t with the tags it was read with: the data layer reads them in the same
// statement as the task (always for a single task, for lists when the selection asks for them,
// see withSelection), so Task.tags is a plain field with no resolver.
func taskModel(t db.Task) *model.Task {
	m := &model.Task{
		ID: t.ID.String(), Title: t.Title, Description: t.Description,
		Completed: t.CompletedAt != nil, CompletedAt: t.CompletedAt, DueAt: t.DueAt,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Tags: tagModels(t.Tags),
	}
	if t.Priority != nil {
		p := priorityNames[*t.Priority]
		m.Priority = &p
	}
	return m
}

func tagModel(t db.Tag) *model.Tag {
	return &model.Tag{ID: t.ID.String(), Name: t.Name, Color: t.Color, CreatedAt: t.CreatedAt}
}

func tagModels(ts []db.Tag) []*model.Tag {
	out := make([]*model.Tag, len(ts))
	for i, t := range ts {
		out[i] = tagModel(t)
	}
	return out
}

func connection(p db.TaskPage) *model.TaskConnection {
	c := &model.TaskConnection{
		Edges:      make([]*model.TaskEdge, len(p.Tasks)),
		Nodes:      make([]*model.Task, len(p.Tasks)),
		PageInfo:   &model.PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage},
		TotalCount: p.TotalCount,
	}
	for i, t := range p.Tasks {
		n := taskModel(t)
		c.Nodes[i] = n
		c.Edges[i] = &model.TaskEdge{Cursor: p.Cursors[i], Node: n}
	}
	if len(p.Cursors) > 0 {
		c.PageInfo.StartCursor = &p.Cursors[0]
		c.PageInfo.EndCursor = &p.Cursors[len(p.Cursors)-1]
	}
	return c
}
