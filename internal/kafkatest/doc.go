// Package kafkatest holds the sarama helpers tests use to put records on a Kafka
// topic and read them back (from the in-process broker of internal/devkafka or any other):
// a client configuration, a producer of values, readers of a whole topic, and the end,
// stable and committed offsets of a topic's partitions. Each helper fails the test on error.
// The helpers open and close their own clients and are safe to call from several
// goroutines.
package kafkatest
