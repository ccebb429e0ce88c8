package console

import (
	"maps"
	"slices"
	"strings"
)

// S3 Standard list prices (us-east-1) that the cost estimate uses. An
// estimate, not a bill: other regions, storage classes, negotiated prices,
// data transfer and the free tier are not counted.
const (
	// pricePerGBMonth is storage, per GB-month (the first 50 TB tier).
	pricePerGBMonth = 0.023
	// pricePerThousandPut is PUT, COPY, POST and LIST requests.
	pricePerThousandPut = 0.005
	// pricePerThousandGet is GET, SELECT and every other request (HEAD).
	pricePerThousandGet = 0.0004
	// DELETE requests are free.

	secondsPerMonth = 30 * 24 * 3600
)

// requestPrice returns the list price of one request of type op.
func requestPrice(op string) float64 {
	switch op {
	case "PUT", "LIST":
		return pricePerThousandPut / 1000
	case "DELETE":
		return 0
	}
	return pricePerThousandGet / 1000
}

// Cost is the month's estimated object-store bill.
type Cost struct {
	// StorageBytes is what the bucket holds now, StorageUSD its month.
	StorageBytes int64   `json:"storage_bytes"`
	StorageUSD   float64 `json:"storage_usd"`
	// Requests is each request type's rate (per second, the average
	// since the agents started) and its month at that rate.
	Requests    []RequestCost `json:"requests"`
	RequestsUSD float64       `json:"requests_usd"`
	TotalUSD    float64       `json:"total_usd"`
	// Prices says what the figures assume.
	Prices string `json:"prices"`
}

// RequestCost is one request type's rate and monthly cost.
type RequestCost struct {
	Op         string  `json:"op"`
	PerSecond  float64 `json:"per_second"`
	PerMonth   float64 `json:"per_month"`
	MonthlyUSD float64 `json:"monthly_usd"`
}

// estimateCost extrapolates a month from the bucket's size and request
// rates.
func estimateCost(storageBytes int64, perSecond map[string]float64) Cost {
	c := Cost{
		StorageBytes: storageBytes,
		StorageUSD:   float64(storageBytes) / 1e9 * pricePerGBMonth,
		Prices:       "S3 Standard list prices, us-east-1: $0.023 per GB-month, $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET/HEAD, DELETE free",
	}
	for _, op := range slices.Sorted(maps.Keys(perSecond)) {
		r := perSecond[op]
		rc := RequestCost{Op: strings.ToUpper(op), PerSecond: r, PerMonth: r * secondsPerMonth}
		rc.MonthlyUSD = rc.PerMonth * requestPrice(rc.Op)
		c.Requests = append(c.Requests, rc)
		c.RequestsUSD += rc.MonthlyUSD
	}
	c.TotalUSD = c.StorageUSD + c.RequestsUSD
	return c
}
