// Package deploy holds silt's deployment files: the Dockerfile, a compose
// file with MinIO, and Kubernetes manifests. It has no code, only tests that
// decode every file strictly and check that the pieces fit together (labels
// and selectors, ports, the flags given to `silt agent`).
//
// It is a module of its own so that the Kubernetes API packages the tests
// need never enter the silt module's dependencies. Run its tests with
//
//	cd deploy && go test ./...
//
// (`make test` at the repository root does).
package deploy
