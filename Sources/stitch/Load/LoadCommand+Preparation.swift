import ArgumentParser
import Foundation
import NIOCore
import StitchClient
import StitchLoad
import StitchRandom
import StitchWire

extension LoadCommand {
    /// Number pools for the run: the world's own (its numbers, fallback and
    /// office phone), or for lease queries 500 numbers per site.
    func declarePools(_ client: QueryClient?) async throws {
        guard let client else {
            printToStandardError("stitch load: cannot declare number pools: no query server on port \(queryPort) (or use --no-pools)")
            throw ExitCode.failure
        }
        for site in 1...UInt32(max(1, sites)) {
            let pool = usesWorld ? World.pool(site: site) : Self.leasePool(site: site)
            do {
                _ = try await client.setPool(site: site, pool)
            } catch {
                printToStandardError("stitch load: pool_set for site \(site) refused: \(error) (an admin token is needed; or use --no-pools)")
                throw ExitCode.failure
            }
        }
        print("declared the number pools of sites 1...\(sites) (pool_set)")
    }

    static func leasePool(site: UInt32) -> Stitch_V1_NumberPool {
        .with {
            $0.dynamicNumbers = (0..<500).map { "+7 495 5\(String(format: "%02d", Int(site) % 100))-\(String(format: "%02d-%02d", $0 / 100, $0 % 100))" }
            $0.fallbackNumber = "+7 495 5\(String(format: "%02d", Int(site) % 100))-99-99"
        }
    }

    var worldParameters: World.Parameters {
        var parameters = World.Parameters()
        parameters.seed = seed
        parameters.sites = sites
        parameters.personsPerSite = worldPersons
        parameters.anonymousDevicePercent = anonymousDevices
        parameters.weeklyCookiePercent = weeklyCookies
        parameters.kioskPercent = kiosks
        parameters.salespersonEmailPercent = salespersonEmails
        parameters.readingPercent = reading
        parameters.renewals = !noRenewals
        return parameters
    }

    /// The frames one connection will send, encoded before the clock starts
    /// so that the generator's own CPU (building beacons, protobuf, zlib)
    /// does not compete with the server on a shared machine.
    func prepareFrames(index: Int) throws -> [ByteBuffer] {
        let perSecond = rate > 0 ? rate : Self.unpacedRateMax
        let batches = Int((Double(perSecond) * duration / Double(batch * connections)).rounded(.up)) + 1
        var traffic = SimpleTraffic(seed: SplitMix64.substreamSeed(seed, index: UInt64(index)), sites: sites, persons: persons, startMs: 1_767_225_600_000, firstSite: firstSite,
            randomSessionIDs: randomSessionIds)
        let encoder = FrameEncoder()
        var frames: [ByteBuffer] = []
        frames.reserveCapacity(batches)
        for sequence in 1...batches {
            let beacons = Stitch_V1_BeaconBatch.with {
                $0.beacons = (0..<batch).map { _ in
                    var beacon = traffic.next()
                    if noEventIds { beacon.eventID = 0 }
                    return beacon
                }
            }
            var buffer = ByteBufferAllocator().buffer(capacity: 64 * batch)
            try encoder.encode(beacons, type: .batch, sequence: UInt64(sequence), compressed: !noCompress, into: &buffer)
            frames.append(buffer)
        }
        return frames
    }

    /// Query frames for the whole run, encoded before the clock starts: nine
    /// lookups, then a history page (20 events) of a visitor, and again.
    func prepareLookups() throws -> [ByteBuffer] {
        let count = Int((Double(queryRate) * duration).rounded(.up)) + 1
        var traffic = SimpleTraffic(seed: SplitMix64.substreamSeed(seed, index: 1000), sites: sites, persons: persons, startMs: 0, firstSite: firstSite)
        let encoder = FrameEncoder()
        return try (1...count).map { id in
            let (site, cookie) = traffic.someCookie()
            let person = Stitch_V1_PersonRef.with {
                $0.identifier = .with {
                    $0.kind = .cookie
                    $0.value = cookie
                }
            }
            let request = Stitch_V1_Request.with {
                $0.requestID = UInt64(id)
                if queryKind == .lease {
                    $0.lease = .with {
                        $0.site = site
                        $0.session = .with {
                            $0.kind = .session
                            $0.value = "ls-" + cookie
                        }
                    }
                } else if OpenLoopQueryDriver.isHistory(id: id) {
                    $0.history = .with {
                        $0.site = site
                        $0.person = person
                        $0.limit = 20
                        $0.newestFirst = true
                    }
                } else {
                    $0.lookup = .with {
                        $0.site = site
                        $0.person = person
                    }
                }
            }
            var buffer = ByteBufferAllocator().buffer(capacity: 64)
            try encoder.encode(request, type: .request, sequence: UInt64(id), into: &buffer)
            return buffer
        }
    }
}
