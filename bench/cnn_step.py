"""PyTorch side of bench/cnn_step.cpp: the same Fashion-MNIST-sized CNN training step, timed
the same way. Run with Debian's /usr/bin/python3 and OMP_NUM_THREADS=2."""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def main():
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images = torch.randn(64, 1, 28, 28)
    targets = torch.tensor([(i * 7) % 10 for i in range(64)])

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), targets)
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(20):
            step()
        best = min(best, (time.perf_counter() - start) / 20)
    print(f"torch {torch.__version__} cnn step: {best * 1e3:.2f} ms (best mean of 7 x 20 steps, "
          f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
