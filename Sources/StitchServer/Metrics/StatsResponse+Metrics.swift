import StitchWire

extension Stitch_V1_StatsResponse {
    /// The value of `metric` in these stats, summed over its labelled series
    /// (`name{reason="…"}`); 0 when the server reported none.
    public func total(_ metric: MetricName) -> UInt64 {
        series(metric).reduce(0) { $0 + $1.value }
    }

    /// Each labelled series of `metric`: its label part (`{reason="…"}`, or
    /// empty) and value.
    public func series(_ metric: MetricName) -> [(labels: String, value: UInt64)] {
        counters.compactMap { counter in
            guard counter.name == metric.name || counter.name.hasPrefix(metric.name + "{") else { return nil }
            return (String(counter.name.dropFirst(metric.name.count)), counter.value)
        }
    }
}
