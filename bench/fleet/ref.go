// Reference rows for ci/bench-fleet: Go channels between two goroutines of one process
// (round trips p50/p99, SPSC throughput). Not a baseline to beat: a reference.
package main

import (
	"fmt"
	"sort"
	"time"
)

func pct(v []float64, p float64) float64 {
	sort.Float64s(v)
	return v[int(p*float64(len(v)-1))]
}

func main() {
	const n = 20000
	a, b := make(chan uint64, 256), make(chan uint64, 256)
	go func() {
		for i := 0; i < n; i++ {
			b <- <-a
		}
	}()
	us := make([]float64, n)
	for i := 0; i < n; i++ {
		t := time.Now()
		a <- uint64(i)
		<-b
		us[i] = float64(time.Since(t).Nanoseconds()) / 1000
	}
	fmt.Printf("go chan uint64 (goroutines)   round trip  p50 %8.2f p99 %8.2f us\n", pct(us, 0.5), pct(us, 0.99))
	const m = 10000000
	c := make(chan uint64, 256)
	done := make(chan uint64)
	go func() {
		var sum uint64
		for i := 0; i < m; i++ {
			sum += <-c
		}
		done <- sum
	}()
	t := time.Now()
	for i := uint64(0); i < m; i++ {
		c <- i
	}
	<-done
	fmt.Printf("go chan uint64 (goroutines)   SPSC throughput %8.2f M msg/s\n", m/time.Since(t).Seconds()/1e6)
}
