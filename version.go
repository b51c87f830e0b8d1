package main

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime/debug"

	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/migrations"
)

// commit is the build's commit when the toolchain could not stamp it (-buildvcs=false, a build
// outside a checkout): the Makefile sets it with -ldflags "-X main.commit=...".
var commit string

// version describes this build: the module version ("(devel)" for a build in a checkout), the
// commit and its time, the Go version, and the schema (a hash of the SDL) and migrations it serves.
func version() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(info, commit) + ", schema " + schemaVersion() + ", migrations " + migrations.Latest()
}

func versionOf(info *debug.BuildInfo, commit string) string {
	if info == nil {
		return "taskgraph (unknown version)"
	}
	s := "taskgraph " + info.Main.Version
	vcs := map[string]string{}
	for _, kv := range info.Settings {
		vcs[kv.Key] = kv.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		s += " (commit " + rev[:min(12, len(rev))]
		if t := vcs["vcs.time"]; t != "" {
			s += ", " + t
		}
		if vcs["vcs.modified"] == "true" {
			s += ", modified"
		}
		s += ")"
	} else if commit != "" {
		s += " (commit " + commit + ")"
	}
	return s + " " + info.GoVersion
}

// schemaVersion names the GraphQL schema this binary serves: the start of its SDL's sha256 (the
// SDL endpoint's ETag starts the same way).
func schemaVersion() string {
	sum := sha256.Sum256([]byte(graph.SDL()))
	return hex.EncodeToString(sum[:6])
}
