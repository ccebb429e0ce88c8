// Package iceberg makes every exported topic an Apache Iceberg table
// (format v2) over the compactor's Parquet export, and serves the tables
// through a read-only Iceberg REST catalog.
//
// # Layout
//
// A topic's table lives beside its export, under the cluster prefix:
//
//	export/<topic>/dt=…/hour=…/part-<p>-<first>-<last>.parquet   data files
//	export/<topic>/metadata/vN.metadata.json                      table metadata, version N
//	export/<topic>/metadata/version-hint.text                     N, a hint
//	export/<topic>/metadata/snap-<id>-1-<uuid>.avro               manifest lists
//	export/<topic>/metadata/<uuid>-m0.avro                        manifests
//
// which is the layout of Iceberg's Hadoop tables, so engines can also read
// a table by its path. The schema is the export's columns (Spark's
// Kafka-source columns), the partition spec hour(timestamp) and
// identity(partition), and a name mapping (schema.name-mapping.default)
// gives the export's Parquet columns their field ids.
//
// # Commits
//
// A commit writes its manifests and manifest list under fresh names, then
// puts metadata/v(N+1).metadata.json with put-if-absent: of any number of
// committers that read version N, exactly one wins, the others read the
// new state and try again, and an ambiguous failure is settled by reading
// v(N+1) back (the bytes are the committer's own or not). Nothing is ever
// edited in place; the version hint is written after the commit and
// readers probe past it.
//
// # Exactly once
//
// Each snapshot's summary records, per Kafka partition, the offset below
// which the table holds every exported record (silt.offsets). The
// compactor fixes an export range in the journal before it writes the
// range's files, commits the table with Append, and only then moves the
// journal's exported offset: a compactor that dies anywhere re-exports the
// same range to the same file names, and Append leaves out a range the
// table already covers. So a record is in exactly one data file of the
// current snapshot, whatever fails.
//
// # Why hamba/avro and not apache/iceberg-go
//
// Manifests are Avro container files, written with hamba/avro from the
// spec's schemas (schema.go). iceberg-go v0.7.0 would write them too, but
// its table package brings Arrow, gRPC, OpenTelemetry and Substrait (the
// module graph grows from 745 to 1,324 edges) for a writer of one fixed
// schema and spec, and its catalog and I/O layers would have to be
// adapted to silt's bucket anyway.
package iceberg
