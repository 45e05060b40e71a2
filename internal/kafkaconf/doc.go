// Package kafkaconf turns how cepd reaches a Kafka cluster (brokers, client id, protocol
// version, TLS, SASL) into the sarama configuration every Kafka client of cepd starts
// from: the source's consumer group, the alert and dead-letter producer, the read-back
// of delivered alerts, cepd produce and cepd gen. It includes the SCRAM-SHA-256/512
// exchange sarama leaves to its caller, written against the standard library.
//
// Conn is plain data (cmd/cepd fills it from flags, the --config file and the
// environment); Sarama reads only the files Conn names (CA, client certificate). A SCRAM
// client is used by one connection at a time, as sarama does.
package kafkaconf
