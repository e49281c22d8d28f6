import StitchWire

extension Stitch_V1_FrameError {
    /// The one answer to a batch that arrives while the server is stopping,
    /// over TCP (`IngestConnectionStateMachine`) and HTTP (`IntakeRoutes`):
    /// nothing of it is stored, and the connection closes once every earlier
    /// batch is answered, so the client resends it to a running server.
    static let shuttingDown = Stitch_V1_FrameError.with {
        $0.code = .shuttingDown
        $0.message = "the server is shutting down; nothing of this batch is stored, resend it to a running server"
        $0.closing = true
    }
}
