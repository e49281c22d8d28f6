import Testing

@testable import StitchServer

/// The query connection's state machine, without sockets.
@Suite("Query connection state machine")
struct QueryConnectionStateMachineTests {
    @Test("hello first, exactly once; requests then run under the hello's access")
    func helloGatesRequests() {
        var state = QueryConnectionStateMachine(inFlightMax: 4)
        #expect(state.requestReceived(isHello: false) == .refuse(QueryFailure(.unauthenticated, "send hello first")))
        #expect(state.requestReceived(isHello: true) == .hello)
        let access = QueryAccess(name: "site 7", sites: [7])
        state.helloAccepted(access)
        #expect(state.requestReceived(isHello: false) == .execute(access))
        #expect(state.requestReceived(isHello: true) == .refuse(QueryFailure(.invalidArgument, "hello was already accepted")))
    }

    @Test("responses flush at the end of a read, or every inFlightMax responses")
    func flushes() {
        var state = QueryConnectionStateMachine(inFlightMax: 3)
        #expect(!state.readComplete().flush, "nothing written, nothing to flush")
        #expect(!state.responseWritten().flush)
        #expect(!state.responseWritten().flush)
        #expect(state.responseWritten().flush, "the third response flushes at once")
        #expect(state.unflushed == 0)
        #expect(!state.responseWritten().flush)
        #expect(state.readComplete().flush)
        #expect(!state.readComplete().flush, "flushed once")
    }

    @Test("a client that does not read stops the server reading; writability resumes it once")
    func backpressure() {
        var state = QueryConnectionStateMachine(inFlightMax: 3)
        #expect(state.readRequested(writable: true).read)
        #expect(!state.readRequested(writable: false).read)
        #expect(state.readHeld)
        #expect(!state.writabilityChanged(writable: false).read)
        #expect(state.writabilityChanged(writable: true).read, "the held read goes on")
        #expect(!state.writabilityChanged(writable: true).read, "and only once")
    }
}
