import { expect } from 'chai';
import { PrometheusMetrics } from '../../src/adapters/prometheus.metrics';
import { createLogger } from '../../src/logger';

/** The value of one sample line of a scrape, by its name and labels as written. */
function sample(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (!found) throw new Error(`no sample ${line}`);
  return Number(found.slice(line.length + 1));
}

describe('PrometheusMetrics: GraphQL requests between scrapes (unit)', () => {
  it('every request is in the next scrape, counted and timed, however many came between two scrapes', async () => {
    const metrics = new PrometheusMetrics({ log: createLogger('silent') });
    // Past the number held before they are handed to prom-client without a scrape, and then some.
    for (let i = 0; i < 5000; i++) metrics.graphqlRequest('Me', 'query', 'OK', i % 2 ? 0.002 : 0.2);
    metrics.graphqlRequest('Me', 'query', 'UNAUTHENTICATED', 0.001);
    let text = (await metrics.scrape()).body;
    expect(sample(text, 'glimpse_graphql_requests_total{operation="Me",type="query",code="OK"}')).to.equal(5000);
    expect(sample(text, 'glimpse_graphql_requests_total{operation="Me",type="query",code="UNAUTHENTICATED"}')).to.equal(1);
    expect(sample(text, 'glimpse_graphql_request_duration_seconds_count{operation="Me",type="query"}')).to.equal(5001);
    expect(sample(text, 'glimpse_graphql_request_duration_seconds_bucket{le="0.005",operation="Me",type="query"}')).to.equal(2501);
    expect(sample(text, 'glimpse_graphql_request_duration_seconds_sum{operation="Me",type="query"}')).to.be.closeTo(
      2500 * 0.202 + 0.001,
      1e-6,
    );
    // A second scrape with nothing new reads the same; new requests add to it.
    const graphqlLines = (t: string) => t.split('\n').filter((l) => l.startsWith('glimpse_graphql_'));
    expect(graphqlLines((await metrics.scrape()).body)).to.deep.equal(graphqlLines(text));
    metrics.graphqlRequest('Me', 'query', 'OK', 0.03);
    text = (await metrics.scrape()).body;
    expect(sample(text, 'glimpse_graphql_requests_total{operation="Me",type="query",code="OK"}')).to.equal(5001);
    expect(sample(text, 'glimpse_graphql_request_duration_seconds_bucket{le="0.05",operation="Me",type="query"}')).to.equal(2502);
  });
});
