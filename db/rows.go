package db

import (
	"time"

	"github.com/google/uuid"
)

// The rows the store returns. They live apart from the code that reads and writes them, so that
// the changes a write sends (notify.go) and the code that writes them (task.go, tag.go) both
// depend on them and not on each other.

// Priority ranks a task: LOW < MEDIUM < HIGH < URGENT. Stored as 1..4 so that it sorts by rank.
type Priority int16

const (
	PriorityLow    Priority = 1
	PriorityMedium Priority = 2
	PriorityHigh   Priority = 3
	PriorityUrgent Priority = 4
)

// Task is a user's to-do item.
type Task struct {
	ID          uuid.UUID
	Title       string
	Description *string
	CompletedAt *time.Time // set exactly when the task is completed
	Priority    *Priority
	DueAt       *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Tags are the task's tags by name (case-insensitively), read in the statement that read the
	// task: always for a single task, for a list only WithTags.
	Tags []Tag
}

// Tag is a user's label for tasks.
type Tag struct {
	ID        uuid.UUID
	Name      string
	Color     *string // "#rrggbb", or nil
	CreatedAt time.Time
}
