// A real Yjs client (yjs + y-websocket) driven by JSON lines on stdin.
// Commands: connect {url, room, token}, insert {index, text}, presence {state},
// watch {root} (emits that Map root as JSON on every change), report, disconnect,
// reconnect. Events go to stdout as JSON lines.
import * as readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const doc = new Y.Doc()
const text = doc.getText('t')
let provider = null

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')

function states () {
  const out = {}
  provider.awareness.getStates().forEach((state, id) => { out[id] = state })
  return out
}

const commands = {
  connect ({ url, room, token }) {
    provider = new WebsocketProvider(url, room, doc, { params: { token }, WebSocketPolyfill: WebSocket })
    provider.on('status', ({ status }) => emit({ event: 'status', status }))
    provider.on('sync', (synced) => synced && emit({ event: 'synced' }))
    provider.on('connection-close', (e) => emit({ event: 'close', code: e ? e.code : null }))
  },
  insert ({ index, text: value }) { text.insert(index, value) },
  watch ({ root }) {
    const map = doc.getMap(root)
    const send = () => emit({ event: 'map', root, value: map.toJSON() })
    map.observeDeep(send)
    send()
  },
  presence ({ state }) { provider.awareness.setLocalState(state) },
  report () {
    emit({
      event: 'report',
      clientId: doc.clientID,
      text: text.toString(),
      stateVector: Buffer.from(Y.encodeStateVector(doc)).toString('base64'),
      awareness: states(),
      shouldConnect: provider.shouldConnect
    })
  },
  disconnect () { provider.disconnect() },
  reconnect () { provider.connect() },
  exit () { provider && provider.destroy(); process.exit(0) }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line)
  try {
    commands[command.op](command)
  } catch (error) {
    emit({ event: 'error', message: String(error) })
  }
})
