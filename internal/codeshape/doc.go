// Package codeshape holds no code: its tests check the shape the repository keeps (issue 23):
// short, simple functions, files of package main and db that use one another one way, a small
// package main, short READMEs, and an ARCHITECTURE.md that names only paths that exist,
// so a change that grows a function, the root package or a README past its bound fails `make
// test` instead of waiting for the next tidy-up.
package codeshape
