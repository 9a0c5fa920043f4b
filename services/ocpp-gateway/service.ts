/** `voltstream service ocpp-gateway`: the OCPP-J endpoint at ws://127.0.0.1:<OCPP_PORT>/ocpp/{chargePointId}. */
import { ServiceDefinition } from '../common/service';
import { createGateway } from './gateway';

export { createGateway } from './gateway';

export const service: ServiceDefinition = {
  name: 'ocpp-gateway',
  summary: 'OCPP 1.6J / 2.0.1 gateway: every frame into ocpp.frames, commands from ocpp.commands to the chargers',
  order: 20,
  start: async (ctx) => {
    const gw = await createGateway(ctx);
    return {
      name: 'ocpp-gateway',
      endpoints: [`${gw.url}/{chargePointId}`, ...(gw.tlsPort ? [`wss://127.0.0.1:${gw.tlsPort}/ocpp/{chargePointId}`] : [])],
      stop: () => gw.stop(),
    };
  },
};
