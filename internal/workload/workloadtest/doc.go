// Package workloadtest turns a generated workload (internal/workload) into the engine
// records tests feed: Records.
package workloadtest
