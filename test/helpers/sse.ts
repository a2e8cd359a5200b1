// Parses a text/event-stream body into its events, as an EventSource would (event name, data lines joined).
export interface SseEvent {
  event: string
  data: string
}

export function parseSse (body: string): SseEvent[] {
  const events: SseEvent[] = []
  for (const block of body.replace(/\r\n?/g, '\n').split('\n\n')) {
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length > 0) events.push({ event, data: data.join('\n') })
  }
  return events
}
