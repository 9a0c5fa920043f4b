import * as E from 'fp-ts/Either';
import { Admin } from 'kafkajs';
import { Config } from '../../common/config';
import { sendJson, sendProblem } from '../../common/http';
import { TopicSerde } from '../../../schemas/registry';
import { ApiRoute, readJsonBody } from '../server';
import { PartnerBody, partnerIdProblem } from '../codecs';
import { partnerListener, provisionPartner } from '../partners';

/** Partner administration (scope admin) and the partner's own WebSocket feed (scope partner:{partnerId}). */
export const partnerRoutes = (deps: { admin: Admin; serde: TopicSerde; config: Config }): ApiRoute[] => [
  {
    method: 'PUT',
    path: '/api/v1/partners/{partnerId}',
    scope: 'admin',
    tag: 'partners',
    summary: "Create or update a partner's Kafka access: SCRAM user <partnerId>, its topic, read ACLs on it only",
    description:
      'Creates partner.{partnerId}.events (and its schema subject) when missing, sets the SCRAM-SHA-256/512 password of the ' +
      'Kafka user named partnerId, and allows that user READ and DESCRIBE on its topic and on consumer groups prefixed ' +
      '`partner.{partnerId}.` — nothing else. Partners connect to the SASL_SSL listener (KAFKA_PARTNER_PORT, 9094), verifying the broker with the CA certificate the answer names (SECURITY.md). ' +
      'Reserved ids (ANONYMOUS in any case, names starting with voltstream, kafka, admin, broker, controller) are refused with 400.',
    requestBody: PartnerBody,
    handle: async (req, res, params) => {
      const body = await readJsonBody(req, PartnerBody);
      const problem = partnerIdProblem(params.partnerId!);
      const idProblem = problem === undefined ? [] : [`partnerId: ${problem}`];
      if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, [...idProblem, ...body.left.problems]);
      if (idProblem.length) return sendProblem(res, 400, 'Invalid request body', idProblem);
      const access = await provisionPartner(deps, params.partnerId!, body.right.password);
      const listener = partnerListener(deps.config);
      sendJson(res, 200, {
        ...access,
        name: body.right.name ?? null,
        kafka: { bootstrap: listener.bootstrap, securityProtocol: listener.securityProtocol, username: access.partnerId, caCertificateFile: listener.caCertificateFile },
      });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/partners/{partnerId}/feed',
    scope: 'partner:{partnerId}',
    tag: 'partners',
    websocket: true,
    okStatus: 101,
    summary: "The partner's event feed over WebSocket, resumable from a position",
    description:
      'Upgrade to WebSocket (API key in Authorization: Bearer, or ?access_token= for browsers). Messages: first ' +
      '{type:"ready",position}, then {type:"event",position,partition,offset,event} per record of partner.{partnerId}.events. ' +
      'Reconnect with ?from=<position> to resume right after the last record received.',
    query: [{ name: 'from', description: 'earliest (default), latest, an ISO 8601 time, or a position token from this feed' }],
    handle: async (_req, res) => sendProblem(res, 426, 'Upgrade Required', ['this endpoint speaks WebSocket: send Connection: Upgrade, Upgrade: websocket'], { Upgrade: 'websocket' }),
  },
];
