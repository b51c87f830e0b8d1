package graph

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph/model"
)

// Limits of the public contract.
const (
	maxTitle       = 500
	maxDescription = 10000
	maxTagName     = 50
	maxSearch      = 200
	defaultFirst   = 20
	maxPage        = 100
)

func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, badInput(field, "%s must be a UUID", field)
	}
	return id, nil
}

// parseIDs parses the ids of field; more than max distinct ones is refused (0: no limit).
func parseIDs(field string, ss []string, max int) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, len(ss))
	for i, s := range ss {
		id, err := parseID(field, s)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	if max > 0 && len(out) > max && len(distinct(out)) > max {
		return nil, badInput(field, "%s may name at most %d tags", field, max)
	}
	return out, nil
}

func distinct(ids []uuid.UUID) map[uuid.UUID]struct{} {
	set := make(map[uuid.UUID]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	return set
}

// text refuses what PostgreSQL's text type cannot store. The transports already refuse a request
// that is not UTF-8; this keeps the rule where the data is checked.
func text(field, s string) error {
	if strings.ContainsRune(s, 0) {
		return badInput(field, "%s must not contain NUL characters", field)
	}
	if !utf8.ValidString(s) {
		return badInput(field, "%s is not valid UTF-8", field)
	}
	return nil
}

func title(s string) (string, error) {
	if err := text("title", s); err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > maxTitle {
		return "", badInput("title", "title must be 1 to %d characters after trimming", maxTitle)
	}
	return s, nil
}

func description(s *string) error {
	if s == nil {
		return nil
	}
	if err := text("description", *s); err != nil {
		return err
	}
	if utf8.RuneCountInString(*s) > maxDescription {
		return badInput("description", "description must be at most %d characters", maxDescription)
	}
	return nil
}

func tagName(s string) (string, error) {
	if err := text("name", s); err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > maxTagName {
		return "", badInput("name", "name must be 1 to %d characters after trimming", maxTagName)
	}
	return s, nil
}

var colorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// color normalises #rgb and #rrggbb to lowercase #rrggbb; "" and null mean no color.
func color(s *string) (*string, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	if !colorRE.MatchString(*s) {
		return nil, badInput("color", "color must be #rgb or #rrggbb")
	}
	c := strings.ToLower(*s)
	if len(c) == 4 {
		c = string([]byte{'#', c[1], c[1], c[2], c[2], c[3], c[3]})
	}
	return &c, nil
}

var priorities = map[model.Priority]db.Priority{
	model.PriorityLow: db.PriorityLow, model.PriorityMedium: db.PriorityMedium,
	model.PriorityHigh: db.PriorityHigh, model.PriorityUrgent: db.PriorityUrgent,
}

func priority(p *model.Priority) *db.Priority {
	if p == nil {
		return nil
	}
	v := priorities[*p]
	return &v
}

// newTask validates createTask's input; a task carries at most maxTags tags.
func newTask(in model.CreateTaskInput, maxTags int) (db.NewTask, error) {
	t, err := title(in.Title)
	if err != nil {
		return db.NewTask{}, err
	}
	if err := description(in.Description); err != nil {
		return db.NewTask{}, err
	}
	tags, err := parseIDs("tagIds", in.TagIds, maxTags)
	if err != nil {
		return db.NewTask{}, err
	}
	return db.NewTask{
		Title: t, Description: in.Description, Priority: priority(in.Priority), DueAt: in.DueAt,
		Completed: in.Completed != nil && *in.Completed, TagIDs: tags,
	}, nil
}

// taskPatch validates updateTask's input; a task carries at most maxTags tags.
func taskPatch(in model.UpdateTaskInput, maxTags int) (db.TaskPatch, error) {
	var p db.TaskPatch
	if in.Title != nil {
		t, err := title(*in.Title)
		if err != nil {
			return p, err
		}
		p.Title = &t
	}
	if d, ok := in.Description.ValueOK(); ok {
		if err := description(d); err != nil {
			return p, err
		}
		p.Description = db.Field[string]{Set: true, Value: d}
	}
	if pr, ok := in.Priority.ValueOK(); ok {
		p.Priority = db.Field[db.Priority]{Set: true, Value: priority(pr)}
	}
	if d, ok := in.DueAt.ValueOK(); ok {
		p.DueAt = db.Field[time.Time]{Set: true, Value: d}
	}
	p.Completed = in.Completed
	if in.TagIds != nil {
		tags, err := parseIDs("tagIds", in.TagIds, maxTags)
		if err != nil {
			return p, err
		}
		p.TagIDs = &tags
	}
	return p, nil
}

// newTag validates createTag's input; the user may hold at most maxTags tags.
func newTag(in model.CreateTagInput, maxTags int) (db.NewTag, error) {
	n, err := tagName(in.Name)
	if err != nil {
		return db.NewTag{}, err
	}
	c, err := color(in.Color)
	if err != nil {
		return db.NewTag{}, err
	}
	return db.NewTag{Name: n, Color: c, MaxTags: maxTags}, nil
}

func tagPatch(in model.UpdateTagInput) (db.TagPatch, error) {
	var p db.TagPatch
	if in.Name != nil {
		n, err := tagName(*in.Name)
		if err != nil {
			return p, err
		}
		p.Name = &n
	}
	if c, ok := in.Color.ValueOK(); ok {
		v, err := color(c)
		if err != nil {
			return p, err
		}
		p.Color = db.Field[string]{Set: true, Value: v}
	}
	return p, nil
}
