"""The embedded chain: web3's in-process py-evm chain (eth-tester), with the contract
deployed at start.

It lives in one process: `swarm up` starts one and every node of the local swarm
registers and stakes on it; `swarm node run` with no `chain.rpc_url` starts one of
its own. eth-tester's prefunded accounts fund the nodes' keys (`fund`). Its
blocks are mined at once, one per transaction; it is forgotten when the process
ends (eth-tester has no persistence API: the persistent local chain of `swarm up`
is anvil with a state file, `contracts.anvil.open_local_chain`).

The contract is deployed from a fresh key (funded by the first prefunded
account), so each new chain has its contract at a new address: a node whose log
wrote to an earlier embedded chain sees a new deployment (chain id and contract)
rather than the same one, and registers anew (`reputation.chainlog`).
"""

from dataclasses import dataclass

from eth_account import Account
from eth_utils import to_checksum_address
from web3 import AsyncWeb3
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from contracts.client import DEPLOYER_FUNDS, Chain, Deployment, deploy
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
        chain = cls(provider, Deployment(EMBEDDED, int(await w3.eth.chain_id), ""), funder)
        deployer = Account.create()
        await chain.fund(deployer.address, DEPLOYER_FUNDS)
        contract = await deploy(w3, deployer, params)
        chain.deployment = Deployment(EMBEDDED, chain.deployment.chain_id, contract)
        return chain

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
