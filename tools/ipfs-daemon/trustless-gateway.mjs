// The trustless-gateway part js-ipfs's own gateway lacks (`/ipfs/{cid}?format=raw`, or
// `Accept: application/vnd.ipld.raw`): one block, as the daemon's blockstore holds it, with CORS.
// Blocks come from the daemon's Kubo RPC API (`/api/v0/block/get`); nothing here hashes or checks
// them, which is the point: a verifier must do that itself.
// Usage: node trustless-gateway.mjs <daemon RPC URL> <port>
import http from 'node:http'

const [api, port] = process.argv.slice(2)

const server = http.createServer(async (req, res) => {
  res.setHeader('Access-Control-Allow-Origin', '*')
  res.setHeader('Access-Control-Allow-Headers', 'Accept, Range')
  if (req.method === 'OPTIONS') return res.writeHead(204).end()
  const url = new URL(req.url, 'http://gateway')
  const match = url.pathname.match(/^\/ipfs\/([A-Za-z0-9]+)\/?$/)
  const raw = url.searchParams.get('format') === 'raw' || (req.headers.accept || '').includes('application/vnd.ipld.raw')
  if (!match || !raw) return res.writeHead(400, { 'Content-Type': 'text/plain' }).end('only /ipfs/{cid}?format=raw')
  try {
    const answer = await fetch(`${api}/api/v0/block/get?arg=${match[1]}&timeout=5s`, { method: 'POST' })
    if (answer.status !== 200) return res.writeHead(404, { 'Content-Type': 'text/plain' }).end(await answer.text())
    const block = Buffer.from(await answer.arrayBuffer())
    res.writeHead(200, {
      'Content-Type': 'application/vnd.ipld.raw',
      'Content-Length': block.length,
      'Cache-Control': 'public, max-age=31536000, immutable',
      ETag: `"${match[1]}.raw"`,
    })
    res.end(req.method === 'HEAD' ? undefined : block)
  } catch (err) {
    res.writeHead(502, { 'Content-Type': 'text/plain' }).end(String(err))
  }
})
server.listen(Number(port), '127.0.0.1', () => console.log(`trustless gateway on ${port}`))
