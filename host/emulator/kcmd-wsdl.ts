// A compact rpc/encoded WSDL for the three KCmd operations the emulator serves, trimmed from the soapcpp2 2.8.124
// output for Kopano's proto.h (shared fixtures generated/KCmd.wsdl; kopano-soap.md §1.1, §1.2, §1.4, §5.2).
// Kept as a string so the compiled emulator (build/host) needs no data file beside it.
const SOAP_ENCODED =
  '<SOAP:body use="encoded" namespace="urn:zarafa" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/>';

function operationBinding(name: string): string {
  return (
    `<operation name="${name}"><SOAP:operation style="rpc" soapAction=""/>` +
    `<input>${SOAP_ENCODED}</input><output>${SOAP_ENCODED}</output></operation>`
  );
}

function message(name: string, parts: [string, string][]): string {
  return `<message name="${name}">${parts.map(([n, t]) => `<part name="${n}" type="xsd:${t}"/>`).join('')}</message>`;
}

export const KCMD_OPERATIONS = ['logon', 'logoff', 'getUser', 'setUser'] as const;
export type KCmdOperation = (typeof KCMD_OPERATIONS)[number];

export const KCMD_WSDL = `<?xml version="1.0" encoding="UTF-8"?>
<definitions name="KCmd" targetNamespace="urn:zarafa" xmlns:tns="urn:zarafa" xmlns:ns="urn:zarafa"
 xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:SOAP="http://schemas.xmlsoap.org/wsdl/soap/" xmlns="http://schemas.xmlsoap.org/wsdl/">
${message('logonRequest', [
  ['szUsername', 'string'],
  ['szPassword', 'string'],
  ['szImpersonateUser', 'string'],
  ['szVersion', 'string'],
  ['ulCapabilities', 'unsignedInt'],
  ['ulFlags', 'unsignedInt'],
  ['sLicenseReq', 'base64Binary'],
  ['ullSessionGroup', 'unsignedLong'],
  ['szClientApp', 'string'],
  ['szClientAppVersion', 'string'],
  ['szClientAppMisc', 'string'],
])}
${message('logonResponse', [
  ['er', 'unsignedInt'],
  ['ulSessionId', 'unsignedLong'],
  ['lpszVersion', 'string'],
  ['ulCapabilities', 'unsignedInt'],
  ['sLicenseResponse', 'base64Binary'],
  ['sServerGuid', 'base64Binary'],
])}
${message('logoffRequest', [['ulSessionId', 'unsignedLong']])}
${message('logoffResponse', [['result', 'unsignedInt']])}
${message('getUserRequest', [
  ['ulSessionId', 'unsignedLong'],
  ['ulUserId', 'unsignedInt'],
  ['sUserId', 'base64Binary'],
])}
${message('getUserResponse', [['er', 'unsignedInt']])}
${message('setUserRequest', [['ulSessionId', 'unsignedLong']])}
${message('setUserResponse', [['result', 'unsignedInt']])}
<portType name="KCmdPortType">
${KCMD_OPERATIONS.map(
  (op) => `<operation name="${op}"><input message="tns:${op}Request"/><output message="tns:${op}Response"/></operation>`,
).join('\n')}
</portType>
<binding name="KCmd" type="tns:KCmdPortType">
<SOAP:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
${KCMD_OPERATIONS.map(operationBinding).join('\n')}
</binding>
<service name="KCmd"><port name="KCmd" binding="tns:KCmd"><SOAP:address location="http://localhost:236/"/></port></service>
</definitions>
`;
