// Package proctest lets tests wait for the state of a pipe or a process,
// where a sleep would only guess how long a loaded machine takes to get
// there. Only Linux shows that state; elsewhere the waits sleep briefly.
package proctest
