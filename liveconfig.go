package main

import (
	"fmt"
	"time"

	"github.com/taskgraph/taskgraph/live"
)

// live reads SUBSCRIPTIONS_PER_USER, SUBSCRIPTIONS_MAX, SOCKETS_PER_USER and the feed's settings.
func (e environment) live() (live.Config, error) {
	var c live.Config
	var err error
	if c.PerUser, err = e.positive("SUBSCRIPTIONS_PER_USER", live.DefaultPerUser); err != nil {
		return c, err
	}
	if c.Max, err = e.positive("SUBSCRIPTIONS_MAX", live.DefaultMax); err != nil {
		return c, err
	}
	if c.SocketsPerUser, err = e.positive("SOCKETS_PER_USER", live.DefaultSocketsPerUser); err != nil {
		return c, err
	}
	return c, e.liveFeed(&c)
}

// liveFeed reads LIVE_FEED (auto, logical or notify; default auto), LIVE_FEED_TIMEOUT (how long
// the feed's connection may stay silent, default 30s) and LIVE_RESUME_WINDOW (how far back
// taskEvents(after:) and tagEvents(after:) resume, default 60s; at most 10,000 changes).
func (e environment) liveFeed(c *live.Config) error {
	switch f := live.FeedKind(e.or("LIVE_FEED", string(live.FeedAuto))); f {
	case live.FeedAuto, live.FeedLogical, live.FeedNotify:
		c.Feed = f
	default:
		return fmt.Errorf("LIVE_FEED: %q is not auto, logical or notify", f)
	}
	var err error
	if c.FeedTimeout, err = e.duration("LIVE_FEED_TIMEOUT", 30*time.Second); err != nil {
		return err
	}
	c.ResumeWindow, err = e.duration("LIVE_RESUME_WINDOW", 60*time.Second)
	return err
}
