import ArgumentParser

/// A `--server HOST:PORT` option's value, split; `example` shows the form.
func serverAddress(_ text: String, example: String) throws -> (host: String, port: Int) {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]) else {
        throw ValidationError("--server takes HOST:PORT, e.g. \(example)")
    }
    return (String(parts[0]), port)
}
