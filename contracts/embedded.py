"""The embedded chain: web3's in-process py-evm chain (eth-tester), with the contract
deployed at start.

It lives in one process: `swarm up` starts one and every node of the local swarm
registers and stakes on it; `swarm node run` with no `chain.rpc_url` starts one of
its own. eth-tester's prefunded accounts fund the nodes' keys (`fund`). Its
blocks are mined at once, one per transaction; it is forgotten when the process
ends.
"""

from dataclasses import dataclass

from eth_utils import to_checksum_address
from web3 import AsyncWeb3
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from contracts.client import Chain, Deployment, deploy
from contracts.params import ChainParams

__all__ = ["EMBEDDED", "EmbeddedChain"]

EMBEDDED = "embedded"
"""The `rpc_url` of a `Deployment` on the embedded chain."""


@dataclass
class EmbeddedChain:
    provider: AsyncEthereumTesterProvider
    deployment: Deployment
    funder: str

    @classmethod
    async def start(cls, params: ChainParams | None = None) -> "EmbeddedChain":
        params = params or ChainParams()
        provider = AsyncEthereumTesterProvider()
        w3 = AsyncWeb3(provider)
        funder = (await w3.eth.accounts)[0]
        contract = await deploy(w3, funder, params)
        return cls(provider, Deployment(EMBEDDED, int(await w3.eth.chain_id), contract), funder)

    def web3(self) -> AsyncWeb3:
        return AsyncWeb3(self.provider)

    async def connect(self) -> Chain:
        return await Chain.connect(self.web3(), self.deployment.contract)

    async def fund(self, address: str, amount: int) -> None:
        w3 = self.web3()
        tx = await w3.eth.send_transaction(
            {"from": self.funder, "to": to_checksum_address(address), "value": amount}
        )
        await w3.eth.wait_for_transaction_receipt(tx)
