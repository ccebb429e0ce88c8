package agent

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Client quotas, enforced as Kafka enforces them (KIP-13, KIP-124,
// KIP-219).
//
// The quotas are journal state (AlterClientQuotas); every agent enforces
// them for its own connections. A client is known by its user and its
// client id; the user is the name of the connection's principal (alice
// for User:alice, from SASL or a client certificate), ANONYMOUS on a
// connection without authentication, as Kafka names it. For each quota
// key the most specific entity that sets it applies, in Kafka's order:
// user and client id, user and default client id, user alone, default
// user and client id, default user and default client id, default user,
// client id alone, default client id. Clients that share the entity share
// its quota (every client of a user quota), except where the entity is a
// default, which each client id (or user) gets for its own.
//
// Each agent measures, per entity, the bytes produced (producer_byte_rate:
// the record bytes of produce requests), the bytes fetched
// (consumer_byte_rate: the record bytes of fetch responses) and the time
// spent handling requests (request_percentage: the time the handlers take,
// outside waits, as a percentage of one thread), over eleven one-second
// samples, at least ten seconds. When a client is over a quota, the
// response carries the time it must wait, (rate - quota) / quota times the
// window, at most the whole window, in throttle_time_ms, and the agent
// reads nothing more from the connection until that time has passed (the
// connection is muted); a fetch over its quota is answered without records,
// whose bytes then do not count. Kafka clients wait the throttle time
// themselves too. Quotas are per agent, as per broker in Kafka.

// The quota keys silt enforces.
const (
	quotaProduce = "producer_byte_rate"
	quotaFetch   = "consumer_byte_rate"
	quotaRequest = "request_percentage"
)

// quotaUser is the quota user of a principal: its name without the
// "User:" type.
func quotaUser(principal string) string {
	return strings.TrimPrefix(principal, "User:")
}

// The rate window, as Kafka's quota.window.num and
// quota.window.size.seconds.
const (
	quotaSamples = 11
	quotaSample  = time.Second
	// quotaIdle is how long an entity's unused measurements are kept.
	quotaIdle = time.Hour
)

// quotas holds the agent's measurements of client rates.
type quotas struct {
	mu struct {
		sync.Mutex
		sensors   map[sensorKey]*rateSensor
		lastPrune time.Time
	}
}

// sensorKey names what one measurement is shared by: a quota key and the
// entity that set it, with defaults replaced by the client's own names.
type sensorKey struct {
	quota, user, clientID string
}

func newQuotas() *quotas {
	q := &quotas{}
	q.mu.sensors = map[sensorKey]*rateSensor{}
	return q
}

// resolveQuota returns the bound of one quota key for a client and the key
// of the measurement it is compared with; ok is false when no entity sets
// it.
func resolveQuota(s *journal.State, quota, user, clientID string) (bound float64, sk sensorKey, ok bool) {
	named := func(typ, name string) journal.QuotaEntityPart { return journal.QuotaEntityPart{Type: typ, Name: name} }
	dflt := func(typ string) journal.QuotaEntityPart { return journal.QuotaEntityPart{Type: typ, Default: true} }
	for _, c := range []struct {
		entity           journal.QuotaEntity
		byUser, byClient bool // whether the measurement is per user, per client id
	}{
		{journal.QuotaEntity{named("user", user), named("client-id", clientID)}, true, true},
		{journal.QuotaEntity{named("user", user), dflt("client-id")}, true, true},
		{journal.QuotaEntity{named("user", user)}, true, false},
		{journal.QuotaEntity{dflt("user"), named("client-id", clientID)}, true, true},
		{journal.QuotaEntity{dflt("user"), dflt("client-id")}, true, true},
		{journal.QuotaEntity{dflt("user")}, true, false},
		{journal.QuotaEntity{named("client-id", clientID)}, false, true},
		{journal.QuotaEntity{dflt("client-id")}, false, true},
	} {
		v, set := s.ClientQuota(c.entity)[quota]
		if !set {
			continue
		}
		sk = sensorKey{quota: quota}
		if c.byUser {
			sk.user = user
		}
		if c.byClient {
			sk.clientID = clientID
		}
		return v, sk, true
	}
	return 0, sensorKey{}, false
}

// usage is what one request and its response cost a client.
type usage struct {
	produced, fetched int
	handling          time.Duration
}

// throttle records a request's usage against the quotas of its client and
// returns how long the client must wait, 0 if it is within them. A fetch
// over its quota is not counted: its records are withheld (see
// withholdRecords).
func (a *Agent) throttle(user, clientID string, u usage, now time.Time) (wait time.Duration, fetchOver bool) {
	type bound struct {
		quota string
		value float64
		sk    sensorKey
		used  float64
	}
	var bounds []bound
	a.journal.View(func(s *journal.State) {
		if len(s.ClientQuotas) == 0 {
			return
		}
		for _, b := range []bound{
			{quota: quotaProduce, used: float64(u.produced)},
			{quota: quotaFetch, used: float64(u.fetched)},
			{quota: quotaRequest, used: u.handling.Seconds() * 100}, // percent-seconds of one thread
		} {
			if b.used == 0 {
				continue
			}
			if v, sk, ok := resolveQuota(s, b.quota, user, clientID); ok {
				b.value, b.sk = v, sk
				bounds = append(bounds, b)
			}
		}
	})
	if len(bounds) == 0 {
		return 0, false
	}
	q := a.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	q.prune(now)
	for _, b := range bounds {
		sensor := q.mu.sensors[b.sk]
		if sensor == nil {
			sensor = &rateSensor{}
			q.mu.sensors[b.sk] = sensor
		}
		sensor.record(now, b.used)
		rate, window := sensor.rate(now)
		if rate <= b.value {
			continue
		}
		d := time.Duration((rate - b.value) / b.value * float64(window))
		d = min(d, quotaSamples*quotaSample)
		if b.quota == quotaFetch {
			sensor.record(now, -b.used) // withheld: not delivered, not counted
			fetchOver = true
		}
		wait = max(wait, d)
	}
	return wait, fetchOver
}

// prune forgets measurements unused for quotaIdle, at most once a minute.
func (q *quotas) prune(now time.Time) {
	if now.Sub(q.mu.lastPrune) < time.Minute {
		return
	}
	q.mu.lastPrune = now
	for k, s := range q.mu.sensors {
		if now.Sub(s.last) > quotaIdle {
			delete(q.mu.sensors, k)
		}
	}
}

// rateSensor is a rate over quotaSamples samples of quotaSample each.
type rateSensor struct {
	start  [quotaSamples]time.Time // each sample's start (zero: unused)
	values [quotaSamples]float64
	last   time.Time
}

func (r *rateSensor) record(now time.Time, v float64) {
	w := now.Truncate(quotaSample)
	i := int(w.UnixNano()/int64(quotaSample)) % quotaSamples
	if !r.start[i].Equal(w) {
		r.start[i], r.values[i] = w, 0
	}
	r.values[i] += v
	r.last = now
}

// rate returns the rate per second over the live samples and the window
// it was measured over: from the oldest live sample's start to now, at
// least quotaSamples-1 samples long, as Kafka's Rate measures it.
func (r *rateSensor) rate(now time.Time) (float64, time.Duration) {
	var total float64
	oldest := now
	for i, s := range r.start {
		if s.IsZero() || now.Sub(s) >= quotaSamples*quotaSample {
			continue
		}
		total += r.values[i]
		if s.Before(oldest) {
			oldest = s
		}
	}
	window := max(now.Sub(oldest), (quotaSamples-1)*quotaSample)
	return total / window.Seconds(), window
}

// capFetch lowers a fetch's MaxBytes to what the client's
// consumer_byte_rate allows over the shortest window, as Kafka does, so
// that one response can pass the quota and the client is not answered
// without records for ever.
func (a *Agent) capFetch(req *request) {
	r, ok := req.body.(*kmsg.FetchRequest)
	if !ok {
		return
	}
	a.journal.View(func(s *journal.State) {
		if len(s.ClientQuotas) == 0 {
			return
		}
		if bound, _, ok := resolveQuota(s, quotaFetch, req.user, req.clientID); ok {
			most := int32(min(bound*(quotaSamples-1), 1<<31-1))
			if r.MaxBytes <= 0 || r.MaxBytes > most {
				r.MaxBytes = max(most, 1)
			}
		}
	})
}

// requestUsage measures what a request and its response count against
// quotas.
func requestUsage(req *request, resp kmsg.Response, handling time.Duration) usage {
	u := usage{handling: handling}
	switch r := req.body.(type) {
	case *kmsg.ProduceRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				u.produced += len(p.Records)
			}
		}
	case *kmsg.FetchRequest:
		f, ok := resp.(*kmsg.FetchResponse)
		if fr, cached := resp.(*fetchResponse); cached {
			f, ok = fr.FetchResponse, true
			u.fetched += fr.size // the cached batches sent as they are
		}
		if ok {
			for _, t := range f.Topics {
				for _, p := range t.Partitions {
					u.fetched += len(p.RecordBatches)
				}
			}
		}
	}
	return u
}

// withholdRecords empties a fetch response over its quota, keeping the
// partitions' offsets, as Kafka answers a throttled fetch.
func withholdRecords(resp kmsg.Response) {
	if fr, cached := resp.(*fetchResponse); cached {
		fr.pieces, fr.size = nil, 0
	}
	if f, ok := asFetchResponse(resp); ok {
		for i := range f.Topics {
			for j := range f.Topics[i].Partitions {
				f.Topics[i].Partitions[j].RecordBatches = nil
			}
		}
	}
}

// setThrottle puts a throttle into a response, keeping a longer one the
// handler set.
func setThrottle(resp kmsg.Response, d time.Duration) {
	if r, ok := resp.(kmsg.ThrottleResponse); ok {
		if cur, _ := r.Throttle(); int64(cur) >= d.Milliseconds() {
			return
		}
	}
	if r, ok := resp.(kmsg.SetThrottleResponse); ok {
		r.SetThrottle(int32(min(d.Milliseconds(), 1<<31-1)))
	}
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
