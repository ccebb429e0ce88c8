// Package duckdb holds a test that reads silt's Parquet export with DuckDB
// (github.com/duckdb/duckdb-go, cgo with the bundled library). It is a
// module of its own so that the main module, and `go test ./...` there,
// stay free of cgo and of DuckDB's large download: run it with
// `make test-duckdb`.
package duckdb
