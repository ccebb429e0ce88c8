// Package console is silt's web console: pages at /ui and the JSON behind
// them at /api/v1, served by every agent on its HTTP port.
//
// Operators of Kafka reach for a separate console (kafka-ui, Redpanda
// Console) to see what the cluster is doing; silt's is in the binary, so a
// newcomer sees the cluster, its topics and groups, the bucket and what it
// costs without installing anything.
//
// The package depends on the agent only through Source, a small interface
// of methods returning plain structs, which the agent implements in one
// adapter file (agent/console_source.go). Everything else — the routes,
// templates, the sampler that keeps short histories for the charts, the
// calls to the other agents for what only they know (their uptime, the
// members of the groups they coordinate), the cost model — lives here, so
// the console can be tested with a Source of its own and moves with none
// of the agent's internals.
//
// Pages are rendered on the server with html/template and readable without
// JavaScript; console.js (embedded, no library) refreshes the page's main
// section every few seconds by fetching the same URL with the header
// X-Console-Fragment, so pages update without reloading. Charts are inline
// SVG drawn on the server from the sampler's history: no chart library and
// nothing fetched at run time.
package console
