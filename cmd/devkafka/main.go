// Command devkafka runs an in-memory Kafka cluster (kfake) on 127.0.0.1 for tests and
// demos. It prints "ready HOST:PORT[,HOST:PORT...]" on stdout once the brokers accept
// connections and stops on SIGTERM or SIGINT.
//
//	go run ./cmd/devkafka --port 9092 --partitions 6
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cepd/cepd/internal/devkafka"
)

func main() {
	var o devkafka.Options
	var topics string
	var quiet bool
	flag.IntVar(&o.Port, "port", 9092, "first broker's port on 127.0.0.1 (0: a free port); broker i listens on port+i")
	flag.IntVar(&o.Brokers, "brokers", 1, "number of brokers")
	flag.IntVar(&o.Partitions, "partitions", 6, "partitions of auto-created and --topics topics")
	flag.StringVar(&topics, "topics", "", "comma-separated topics to create at start")
	flag.StringVar(&o.DataDir, "data-dir", "", "keep the cluster's state in this directory across restarts (default: memory only)")
	flag.BoolVar(&quiet, "quiet", false, "do not log broker warnings to stderr")
	flag.Parse()
	if topics != "" {
		o.Topics = strings.Split(topics, ",")
	}
	if !quiet {
		o.Log = os.Stderr
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	c, err := devkafka.Start(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devkafka:", err)
		os.Exit(1)
	}
	fmt.Println("ready", strings.Join(c.Addrs(), ","))
	<-sigs
	c.Close()
}
