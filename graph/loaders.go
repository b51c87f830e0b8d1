package graph

import (
	"context"

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
		// All Task.tags of a page resolve concurrently and land in one batch: one query per page.
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
		}),
	}
}

func loadersFor(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}
