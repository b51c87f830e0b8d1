package graph

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/taskgraph/taskgraph/db"
)

// loaders batch the reads of one operation. They are built per operation for the operation's user,
// so a cached value never crosses users or requests.
type loaders struct {
	tagsByTask *dataloadgen.Loader[uuid.UUID, []db.Tag]
}

type loadersKey struct{}

func newLoaders(store *db.Store, user uuid.UUID) *loaders {
	return &loaders{
		// A tasks page primes this loader (see prime); other Task.tags (single tasks, mutation
		// results) resolve concurrently and land in one batch per operation.
		tagsByTask: dataloadgen.NewLoader(func(ctx context.Context, taskIDs []uuid.UUID) ([][]db.Tag, []error) {
			m, err := store.TagsByTask(ctx, user, taskIDs)
			if err != nil {
				return nil, []error{err}
			}
			out := make([][]db.Tag, len(taskIDs))
			for i, id := range taskIDs {
				out[i] = m[id]
			}
			return out, nil
		}, dataloadgen.WithWait(2*time.Millisecond)), // gqlgen starts sibling resolvers at once

	}
}

func loadersFor(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}

// prime fills the tags loader from a page loaded WithTags, so that the page's Task.tags need no
// further query (and no batching window).
func (l *loaders) prime(p db.TaskPage) {
	for _, t := range p.Tasks {
		l.tagsByTask.Prime(t.ID, p.Tags[t.ID])
	}
}
