// Kafka transactions with franz-go (see ../../README.md, "Transactions"): a GroupTransactSession
// reads an input topic in a group and writes input i as "t<i>" to an output topic, the consumed
// offsets committed in the same transaction. Round 1 commits 20 inputs; round 2 (20 more) is
// ended with an abort, which must rewind the session to round 1's committed offsets, and is then
// redone. The output read read_committed must hold each of the 40 inputs exactly once.
//
//	cd tests/clients/go && BOOTSTRAP=host:port go run ./txn
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const perRound = 20

func fail(format string, args ...any) {
	fmt.Printf("FAIL franz-go transactions: "+format+"\n", args...)
	os.Exit(1)
}

// produceInputs writes inputs from..to-1 (key k<i>, value <i>) without a transaction.
func produceInputs(ctx context.Context, cl *kgo.Client, topic string, from, to int) {
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		fail("produce inputs: %v", err)
	}
}

// round runs one transaction over the next perRound inputs and ends it with end; it returns
// the keys it consumed, in order.
func round(ctx context.Context, s *kgo.GroupTransactSession, out string, end kgo.TransactionEndTry) []string {
	if err := s.Begin(); err != nil {
		fail("begin: %v", err)
	}
	var keys []string
	for len(keys) < perRound {
		if ctx.Err() != nil {
			fail("round stuck after %d of %d inputs", len(keys), perRound)
		}
		fetches := s.PollRecords(ctx, perRound-len(keys))
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				fail("fetch %s/%d: %v", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			keys = append(keys, string(r.Key))
			// ProduceSync, not a buffered Produce: an aborted round's records must really be in
			// the log (and then be hidden by the abort), not dropped before they were sent.
			if err := s.ProduceSync(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: append([]byte("t"), r.Value...)}).FirstErr(); err != nil {
				fail("produce output: %v", err)
			}
		})
	}
	committed, err := s.End(ctx, end)
	if err != nil || committed != bool(end) {
		fail("End(commit=%v) returned committed=%v err=%v", bool(end), committed, err)
	}
	return keys
}

// readOutput reads the whole output topic with the given isolation until it has want records,
// then polls a little longer so that a duplicate past want would be seen too.
func readOutput(ctx context.Context, bootstrap, topic string, level kgo.IsolationLevel, want int) map[string][]string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(level),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fail("reader: %v", err)
	}
	defer cl.Close()
	values := map[string][]string{}
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	var quietUntil time.Time
	for quietUntil.IsZero() || time.Now().Before(quietUntil) {
		if time.Now().After(deadline) {
			fail("read of %s stuck at %d of %d records", topic, n, want)
		}
		pollCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		cl.PollFetches(pollCtx).EachRecord(func(r *kgo.Record) {
			values[string(r.Key)] = append(values[string(r.Key)], string(r.Value))
			n++
		})
		cancel()
		if n >= want && quietUntil.IsZero() {
			quietUntil = time.Now().Add(1500 * time.Millisecond)
		}
	}
	return values
}

func main() {
	bootstrap := os.Getenv("BOOTSTRAP")
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	run := hex.EncodeToString(nonce)
	in, out, group := "txn-franzgo-in-"+run, "txn-franzgo-out-"+run, "g-txn-franzgo-"+run
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	plain, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("client: %v", err)
	}
	defer plain.Close()
	admin := kadm.NewClient(plain)
	for _, t := range []string{in, out} {
		if created, err := admin.CreateTopic(ctx, 3, 1, nil, t); err != nil || created.Err != nil {
			fail("create topic %s: %v %v", t, err, created.Err)
		}
	}

	s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(bootstrap), kgo.TransactionalID("txn-franzgo-"+run),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Read only committed inputs, and have the group's offset fetch wait for pending
		// transactional offset commits (KIP-447) instead of returning stale ones.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets())
	if err != nil {
		fail("session: %v", err)
	}
	defer s.Close()

	produceInputs(ctx, plain, in, 0, perRound)
	first := round(ctx, s, out, kgo.TryCommit)
	produceInputs(ctx, plain, in, perRound, 2*perRound)
	aborted := round(ctx, s, out, kgo.TryAbort)
	// The abort resets the session to the group's committed offsets: the redo must consume the
	// very same inputs again.
	redone := round(ctx, s, out, kgo.TryCommit)
	slices.Sort(aborted)
	slices.Sort(redone)
	if !slices.Equal(aborted, redone) {
		fail("the redone round consumed %v, the aborted one %v", redone, aborted)
	}
	for _, k := range aborted {
		if slices.Contains(first, k) {
			fail("input %s consumed again after round 1 committed it", k)
		}
	}

	// commit returns once the coordinator decided; wait for the markers (LSO = HW) before reading.
	for {
		lso, err1 := admin.ListCommittedOffsets(ctx, out)
		hw, err2 := admin.ListEndOffsets(ctx, out)
		if err1 != nil || err2 != nil {
			fail("list offsets: %v %v", err1, err2)
		}
		stable := true
		hw.Each(func(o kadm.ListedOffset) {
			if c, ok := lso.Lookup(o.Topic, o.Partition); !ok || c.Offset != o.Offset {
				stable = false
			}
		})
		if stable {
			break
		}
		if ctx.Err() != nil {
			fail("output never stable")
		}
		time.Sleep(100 * time.Millisecond)
	}

	total := 2 * perRound
	committed := readOutput(ctx, bootstrap, out, kgo.ReadCommitted(), total)
	if len(committed) != total {
		fail("read_committed output has %d distinct keys, expected %d", len(committed), total)
	}
	for i := 0; i < total; i++ {
		k := "k" + strconv.Itoa(i)
		if vs := committed[k]; len(vs) != 1 || vs[0] != "t"+strconv.Itoa(i) {
			fail("read_committed output for %s: %v, expected exactly [t%d]", k, vs, i)
		}
	}
	uncommitted := readOutput(ctx, bootstrap, out, kgo.ReadUncommitted(), total+perRound)
	n := 0
	for _, vs := range uncommitted {
		n += len(vs)
	}
	if n != total+perRound {
		fail("read_uncommitted output has %d records, expected %d committed + %d aborted", n, total, perRound)
	}

	// The group's offsets went in with the transactions: they must be the input's end offsets.
	ends, err := admin.ListEndOffsets(ctx, in)
	if err != nil {
		fail("list input end offsets: %v", err)
	}
	// RequireStable: the coordinator answers UNSTABLE_OFFSET_COMMIT while the last commit's
	// marker has not reached __consumer_offsets yet; ask again until it has.
	var groupOffsets kadm.OffsetResponses
	for {
		groupOffsets, err = admin.FetchOffsets(kadm.RequireStable(ctx), group)
		if err == nil {
			err = groupOffsets.Error()
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) || ctx.Err() != nil {
			fail("fetch group offsets: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if g, ok := groupOffsets.Lookup(o.Topic, o.Partition); !ok || g.At != o.Offset {
			fail("group offset of %s/%d: %v, expected the end offset %d", o.Topic, o.Partition, g.At, o.Offset)
		}
	})
	fmt.Printf("ok: %d inputs, round 2 (%d) aborted and redone; output exactly once\n", total, perRound)
	fmt.Println("PASS franz-go transactions")
}
