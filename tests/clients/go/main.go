// The compatibility scenario (see ../README.md) with franz-go (pure Go).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL franz-go: "+format+"\n", args...)
	os.Exit(1)
}

func consume(bootstrap, topic, group string, count int, seen map[string]bool) {
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fail("client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var taken []*kgo.Record
	for len(taken) < count {
		fetches := client.PollRecords(ctx, count-len(taken))
		if ctx.Err() != nil {
			fail("timed out after %d of %d", len(taken), count)
		}
		fetches.EachError(func(t string, p int32, err error) { fail("fetch %s/%d: %v", t, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			key := string(r.Key)
			n := key[1:]
			header := ""
			for _, h := range r.Headers {
				if h.Key == "n" {
					header = string(h.Value)
				}
			}
			if string(r.Value) != "v"+n || header != n {
				fail("message %s has value %s header %s", key, r.Value, header)
			}
			if seen[key] {
				fail("%s delivered twice", key)
			}
			seen[key] = true
			taken = append(taken, r)
		})
	}
	if err := client.CommitRecords(ctx, taken...); err != nil {
		fail("commit: %v", err)
	}
	client.Close()
}

func main() {
	bootstrap := os.Getenv("BOOTSTRAP")
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	topic := "compat-franzgo-" + hex.EncodeToString(nonce)
	group := "g-" + topic
	ctx := context.Background()

	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		fail("client: %v", err)
	}
	admin := kadm.NewClient(client)
	created, err := admin.CreateTopic(ctx, 3, 1, nil, topic)
	if err != nil || created.Err != nil {
		fail("create topic: %v %v", err, created.Err)
	}
	records := make([]*kgo.Record, 0, 1000)
	for i := 0; i < 1000; i++ {
		s := strconv.Itoa(i)
		records = append(records, &kgo.Record{Topic: topic, Key: []byte("k" + s), Value: []byte("v" + s),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(s)}}})
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		fail("produce: %v", err)
	}
	client.Close()
	seen := map[string]bool{}
	consume(bootstrap, topic, group, 600, seen)
	consume(bootstrap, topic, group, 400, seen)
	if len(seen) != 1000 {
		fail("%d distinct messages instead of 1000", len(seen))
	}
	fmt.Println("PASS franz-go")
}
