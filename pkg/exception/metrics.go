package exception

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Soon is how close to its expiry an exception counts as expiring soon.
const Soon = 14 * 24 * time.Hour

// Collectors are the exception metrics: exceptions in force, and those
// expiring within 14 days, computed when scraped from the set current
// returns (the configuration serving then: it changes on a reload).
func Collectors(current func() Set, now func() time.Time) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "microguard_exceptions_expiring_soon",
			Help: "Exceptions in force that expire within 14 days.",
		}, func() float64 { return float64(current().ExpiringWithin(now(), Soon)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "microguard_exceptions_active",
			Help: "Exceptions in force (not yet expired).",
		}, func() float64 { return float64(current().ExpiringWithin(now(), 1<<62)) }),
	}
}
