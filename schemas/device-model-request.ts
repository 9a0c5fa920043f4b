/** The CALL that reads a charger's configuration into the device model: 1.6 GetConfiguration (every key), 2.0.1
 *  GetBaseReport FullInventory (the charger then sends NotifyReport parts). Used by the gateway on boot and by the API
 *  on demand; the answers reach charging.events as DeviceModelReported (streams/normalizer). */
export const deviceModelRequest = (protocol: string, requestId: number): { action: string; payload: Record<string, unknown> } =>
  protocol === 'ocpp1.6' ? { action: 'GetConfiguration', payload: {} } : { action: 'GetBaseReport', payload: { requestId, reportBase: 'FullInventory' } };
