package objstore

// Prices are what a store charges per request, in dollars per 1,000
// requests. The zero value is a store without a per-request price (a local
// directory, memory): silt writes to such a store as often as it likes,
// and to a priced one within a budget of PUTs (agent/writer).
type Prices struct {
	PutPer1000 float64 // PUT, COPY, POST, LIST
	GetPer1000 float64 // GET, HEAD and the rest
}

// S3ListPrices are AWS S3 Standard's request prices in us-east-1 (PUT,
// COPY, POST, LIST $0.005 per 1,000; GET and the rest $0.0004 per 1,000).
// The s3 and minio drivers charge them: an S3-compatible server may be
// free to run, but it stands for S3, and a budget set on it holds on S3.
var S3ListPrices = Prices{PutPer1000: 0.005, GetPer1000: 0.0004}

// secondsPerMonth is an average month (365.25 × 24 × 3600 / 12).
const secondsPerMonth = 2_629_800

// PerRequest reports whether the store charges per request.
func (p Prices) PerRequest() bool { return p.PutPer1000 > 0 || p.GetPer1000 > 0 }

// Monthly returns the dollars a month that puts and gets a second cost.
func (p Prices) Monthly(putsPerSecond, getsPerSecond float64) float64 {
	return (putsPerSecond*p.PutPer1000 + getsPerSecond*p.GetPer1000) / 1000 * secondsPerMonth
}

// Priced is implemented by drivers whose store charges per request.
type Priced interface {
	RequestPrices() Prices
}

// Wrapper is implemented by decorators (WithPrefix, WithMetrics,
// objstorefault, WithPrices): Unwrap returns the bucket they wrap, so
// PricesOf and MetricsOf see through them.
type Wrapper interface {
	Unwrap() Bucket
}

// PricesOf returns the request prices of b's store, looking through
// decorators; the zero Prices if nothing on the way says otherwise.
func PricesOf(b Bucket) Prices {
	for b != nil {
		if p, ok := b.(Priced); ok {
			return p.RequestPrices()
		}
		w, ok := b.(Wrapper)
		if !ok {
			break
		}
		b = w.Unwrap()
	}
	return Prices{}
}

// MetricsOf returns the request counters of the outermost WithMetrics
// decorator of b, or nil.
func MetricsOf(b Bucket) *Metrics {
	for b != nil {
		if m, ok := b.(*metered); ok {
			return m.m
		}
		w, ok := b.(Wrapper)
		if !ok {
			break
		}
		b = w.Unwrap()
	}
	return nil
}

// WithPrices returns b charged at p per request, whatever its driver says:
// for benchmarks and tests that stand a local store in for S3 (with
// objstorefault's latency), so the agent writes to it as it would to S3.
func WithPrices(b Bucket, p Prices) Bucket { return &priced{Bucket: b, p: p} }

type priced struct {
	Bucket
	p Prices
}

func (x *priced) RequestPrices() Prices { return x.p }
func (x *priced) Unwrap() Bucket        { return x.Bucket }
